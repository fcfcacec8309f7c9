"""The admin routes (``api/admin/views.py``): JSON faults for the API, the login form for pages."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.support.api import KEY, SHOP, log_in, page_token


def test_admin_faults_are_json_errors_never_500(api: FlaskClient) -> None:
    headers = {"X-API-Key": KEY}
    retry = api.post("/admin/api/quarantine/retry", headers=headers)
    assert retry.status_code == 503 and retry.get_json()["error"]["code"] == "broker_unavailable"
    state = api.get("/admin/api/ingest", headers=headers).get_json()
    assert state["runs"] == [] and state["broker"] != "ok"
    assert api.get("/admin/ingest", headers=headers).status_code == 200  # the page says the broker is down
    assert api.get("/admin/api/products/no-such-product", headers=headers).status_code == 404
    assert api.get("/admin/catalogue?page=x", headers=headers).status_code == 400
    assert api.get("/admin/reports/..%2F..%2Fetc%2Fpasswd", headers=headers).status_code == 404


def test_without_the_key_the_api_answers_json_and_the_pages_the_login_form(api: FlaskClient) -> None:
    # A client of its own: the shared one may hold a login cookie from another test.
    anonymous = api.application.test_client()

    refused = anonymous.get("/admin/api/index")
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    page = anonymous.get("/admin/catalogue?q=tent")
    assert page.status_code == 401 and page.mimetype == "text/html"
    assert 'value="/admin/catalogue?q=tent"' in page.get_data(as_text=True)  # where to go after logging in


def test_admin_responses_are_never_cached_and_carry_a_csp(api: FlaskClient) -> None:
    response = api.get("/admin/api/index", headers={"X-API-Key": KEY})

    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_catalogue_and_a_product_page_show_the_shop(api: FlaskClient) -> None:
    headers = {"X-API-Key": KEY}

    assert "Laptop" in api.get("/admin/catalogue?q=laptop", headers=headers).get_data(as_text=True)
    detail = api.get("/admin/api/products/laptop", headers=headers).get_json()
    assert detail["product"]["title"] == "Laptop" and detail["product"]["thumbnails"]
    assert api.get("/admin/catalogue/no-such-product", headers=headers).status_code == 404


def test_the_ranking_settings_list_every_version_and_the_defaults(api: FlaskClient) -> None:
    answer = api.get("/admin/api/ranking", headers={"X-API-Key": KEY}).get_json()

    assert answer["live"] == 0  # nothing saved for this shop: the built-in defaults rank
    assert [version["version"] for version in answer["versions"]] == [0]
    assert answer["versions"][0]["settings"]["fusion"] == "adaptive"
    assert api.get("/admin/api/ranking").status_code == 401


@pytest.fixture
def logged_in(api: FlaskClient) -> FlaskClient:
    """A browser of its own, logged in through the form."""
    browser = api.application.test_client()
    assert log_in(browser).status_code == 303
    return browser


def test_a_change_riding_on_the_cookie_from_another_sites_page_is_refused(logged_in: FlaskClient) -> None:
    token = page_token(logged_in.get("/admin/ingest"))
    retry = "/admin/api/quarantine/retry"

    # The attack: a page of another site posts a simple text/plain form; the browser adds the cookie.
    foreign = logged_in.post(retry, data="x", content_type="text/plain", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.get_json()["error"]["code"] == "csrf_refused"
    # Even with the token, and even from an origin allowed to call the public API.
    assert logged_in.post(retry, headers={"Origin": "https://evil.example", "X-CSRF-Token": token}).status_code == 403
    assert logged_in.post(retry, headers={"Origin": SHOP, "X-CSRF-Token": token}).status_code == 403
    # From our own page but without the token (a form from elsewhere that strips the Origin).
    assert logged_in.post(retry, data="x", content_type="text/plain", headers={"Origin": "http://localhost"}).status_code == 403
    # Our own page, with its token: the request goes through (the broker of this app is down).
    ours = logged_in.post(retry, headers={"Origin": "http://localhost", "X-CSRF-Token": token})
    assert ours.status_code == 503 and ours.get_json()["error"]["code"] == "broker_unavailable"


def test_the_log_out_form_carries_the_sessions_token(logged_in: FlaskClient) -> None:
    assert logged_in.post("/admin/logout").status_code == 403  # no token: the session stays open
    assert logged_in.get("/admin/api/index").status_code == 200

    out = logged_in.post("/admin/logout", data={"csrf_token": page_token(logged_in.get("/admin/"))})

    assert out.status_code == 303 and logged_in.get("/admin/api/index").status_code == 401


def test_the_login_form_needs_the_token_of_its_own_page(api: FlaskClient) -> None:
    browser = api.application.test_client()

    forged = browser.post("/admin/login", data={"key": KEY, "next": "/admin/"})  # a form posted from another site
    assert forged.status_code == 403 and browser.get_cookie("lookalike_admin", path="/admin") is None
    other_page = page_token(api.application.test_client().get("/admin/login"))  # bound to another browser's login cookie
    assert browser.post("/admin/login", data={"key": KEY, "csrf_token": other_page}).status_code == 403
    assert log_in(browser).status_code == 303


def test_a_script_with_the_key_in_a_header_needs_no_token(api: FlaskClient) -> None:
    retry = api.post("/admin/api/quarantine/retry", headers={"X-API-Key": KEY, "Origin": "https://elsewhere.example"})

    assert retry.status_code == 503  # past the guard: only the broker is missing


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/catalogue?page=²", 400),
        ("/admin/catalogue?page=" + "9" * 5000, 400),
        ("/admin/catalogue?page=0", 400),
        ("/admin/catalogue?q=" + "tent%20" * 600, 400),
        ("/admin/catalogue/" + "x" * 5000, 404),
        ("/admin/api/products/" + "x" * 5000, 404),
        ("/admin/reports/" + "a" * 5000 + ".png", 404),
    ],
)
def test_bad_admin_parameters_are_answered_4xx_never_500(api: FlaskClient, path: str, status: int) -> None:
    assert api.get(path, headers={"X-API-Key": KEY}).status_code == status


def test_a_login_next_with_a_line_break_cannot_inject_a_header(api: FlaskClient) -> None:
    browser = api.application.test_client()

    login = log_in(browser, next_path="/admin/\r\nSet-Cookie: injected=1")

    assert login.status_code == 303 and login.headers["Location"] == "/admin/"
    assert "injected" not in str(login.headers)
