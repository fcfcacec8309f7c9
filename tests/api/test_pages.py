"""The public pages (``api/pages.py``): the search page, static files and the widget."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient

from api.pages import STATIC, static_url


def test_the_widget_and_static_files_are_cacheable_and_the_pages_have_a_csp(api: FlaskClient) -> None:
    widget = api.get("/widget.js")
    assert widget.status_code == 200 and widget.mimetype == "text/javascript" and "max-age=3600" in widget.headers["Cache-Control"]
    page = api.get("/")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert api.get("/static/../app.py").status_code == 404


def test_a_static_url_changes_with_the_file(api: FlaskClient) -> None:
    with api.application.test_request_context("/"):
        url = urlsplit(static_url("style.css"))

    assert url.path == "/static/style.css"
    assert parse_qs(url.query)["v"] == [str(int((STATIC / "style.css").stat().st_mtime))]
    assert api.get(f"{url.path}?{url.query}").status_code == 200


def test_the_search_page_links_its_versioned_static_files(api: FlaskClient) -> None:
    page = api.get("/").get_data(as_text=True)

    assert "/static/search.js?v=" in page and "/static/style.css?v=" in page
