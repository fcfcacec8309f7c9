"""What the browser-facing routes promise, checked without a browser: crop boxes, CORS, the admin key."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from api.auth import COOKIE, session_token, session_valid
from plugin.config import Config
from plugin.errors import ConfigError
from tests.support.cli import free_port
from tests.support.images import degraded

KEY = "k3y-for-tests"
SHOP = "https://shop.example"


@pytest.fixture(scope="module")
def app_config(shop_config: Config) -> Config:
    # A broker nobody listens on: the admin must answer 503, not 500, when it is down.
    ingest = dataclasses.replace(shop_config.ingest, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    return dataclasses.replace(shop_config, admin_key=KEY, cors_origins=(SHOP,), ingest=ingest)


@pytest.fixture(scope="module")
def api(app_config: Config) -> FlaskClient:
    return create_app(app_config, warm=False).test_client()


def upload(api: FlaskClient, data: bytes, **fields: str) -> Any:
    return api.post("/search", data={"image": (io.BytesIO(data), "q.jpg"), **fields}, content_type="multipart/form-data")


@pytest.mark.parametrize(
    ("crop", "status"),
    [("0.1,0.1,0.9", 400), ("0.5,0.5,0.2,0.9", 400), ("0,0,1.5,1", 400), ("a,b,c,d", 400), ("0.1,0.1,0.12,0.9", 400), ("0,0,1,1", 200), ("0.5,0,1,1", 200)],
)
def test_a_crop_box_is_validated(api: FlaskClient, products: dict[str, dict[str, Any]], crop: str, status: int) -> None:
    response = upload(api, degraded(products["Tent"]["images"][0]), crop=crop, size="3")

    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"]["field"] == "crop"


def test_a_crop_box_needs_a_photo_and_changes_what_is_searched(api: FlaskClient, products: dict[str, dict[str, Any]]) -> None:
    for body in ({"text": "tent", "crop": [0, 0, 0.5, 0.5]}, {"product_id": "laptop", "crop": [0, 0, 0.5, 0.5]}):
        response = api.post("/search", json=body)
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "crop"
    photo = degraded(products["Tent"]["images"][0])
    whole = upload(api, photo, explain="true", size="1").get_json()["hits"][0]["explain"]["signals"]["image"]["score"]
    corner = upload(api, photo, crop="0,0,0.3,0.3", explain="true", size="1").get_json()["hits"][0]["explain"]["signals"]["image"]["score"]
    assert whole != corner


def test_cors_names_allowed_origins_on_public_routes_only(api: FlaskClient) -> None:
    allowed = api.post("/search", json={"text": "tent", "size": 1}, headers={"Origin": SHOP})
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP and "Origin" in allowed.headers["Vary"]
    assert api.get("/widget.js", headers={"Origin": SHOP}).headers["Access-Control-Allow-Origin"] == SHOP
    other = api.post("/search", json={"text": "tent", "size": 1}, headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    preflight = api.options("/search", headers={"Origin": SHOP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    admin = api.get("/admin/api/index", headers={"Origin": SHOP, "X-API-Key": KEY})
    assert admin.status_code == 200 and "Access-Control-Allow-Origin" not in admin.headers


def test_the_widget_and_static_files_are_cacheable_and_the_pages_have_a_csp(api: FlaskClient) -> None:
    widget = api.get("/widget.js")
    assert widget.status_code == 200 and widget.mimetype == "text/javascript" and "max-age=3600" in widget.headers["Cache-Control"]
    page = api.get("/")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert api.get("/static/../app.py").status_code == 404


def test_without_a_configured_key_the_admin_is_off_not_open(app_config: Config) -> None:
    api = create_app(dataclasses.replace(app_config, admin_key=None), warm=False).test_client()

    for path in ("/admin/", "/admin/api/index", "/admin/login"):
        response = api.get(path, headers={"X-API-Key": ""})
        assert response.status_code == 403
        assert b"LOOKALIKE_ADMIN_KEY" in response.data
    assert api.post("/admin/login", data={"key": ""}).status_code == 403
    assert api.post("/search", json={"text": "tent", "size": 1}).status_code == 200  # the search stays open


def test_the_login_cookie_is_signed_and_expires(api: FlaskClient) -> None:
    assert session_valid(KEY, session_token(KEY))
    assert not session_valid(KEY, session_token(KEY, now=0))  # expired long ago
    assert not session_valid("another key", session_token(KEY))
    login = api.post("/admin/login", data={"key": KEY, "next": "https://evil.example/"})
    assert login.status_code == 303 and login.headers["Location"] == "/admin/"  # no open redirect
    assert f"{COOKIE}=" in login.headers["Set-Cookie"] and "HttpOnly" in login.headers["Set-Cookie"]
    assert api.get("/admin/api/index").status_code == 200  # the test client kept the cookie


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


@pytest.mark.parametrize("value", ["shop.example", "https://shop.example/path", "ftp://shop.example"])
def test_bad_cors_origins_are_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="LOOKALIKE_CORS_ORIGINS"):
        Config.from_env({"LOOKALIKE_CORS_ORIGINS": value})
    assert Config.from_env({"LOOKALIKE_CORS_ORIGINS": "https://a.example, http://localhost:3000/"}).cors_origins == ("https://a.example", "http://localhost:3000")
