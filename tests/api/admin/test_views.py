"""The admin routes (``api/admin/views.py``): JSON faults for the API, the login form for pages."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.api import KEY


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
