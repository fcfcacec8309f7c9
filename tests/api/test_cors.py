"""Cross-origin access (``api/cors.py``): the allowed origins on the public routes, never on /admin."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import cors
from plugin.config import Config
from plugin.errors import ConfigError
from tests.support.api import KEY, SHOP


def test_cors_names_allowed_origins_on_public_routes_only(api: FlaskClient) -> None:
    allowed = api.post("/search", json={"text": "tent", "size": 1}, headers={"Origin": SHOP})
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP and "Origin" in allowed.headers["Vary"]
    assert allowed.headers["Timing-Allow-Origin"] == SHOP and allowed.headers["Access-Control-Expose-Headers"] == "Server-Timing, Retry-After, X-Request-Id"
    assert api.get("/widget.js", headers={"Origin": SHOP}).headers["Access-Control-Allow-Origin"] == SHOP
    other = api.post("/search", json={"text": "tent", "size": 1}, headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    preflight = api.options("/search", headers={"Origin": SHOP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    admin = api.get("/admin/api/index", headers={"Origin": SHOP, "X-API-Key": KEY})
    assert admin.status_code == 200 and "Access-Control-Allow-Origin" not in admin.headers


@pytest.mark.parametrize("value", ["shop.example", "https://shop.example/path", "ftp://shop.example"])
def test_bad_cors_origins_are_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="LOOKALIKE_CORS_ORIGINS"):
        Config.from_env({"LOOKALIKE_CORS_ORIGINS": value})
    assert Config.from_env({"LOOKALIKE_CORS_ORIGINS": "https://a.example, http://localhost:3000/"}).cors_origins == ("https://a.example", "http://localhost:3000")


def app_allowing(*origins: str) -> FlaskClient:
    """A bare app with two routes, one public and one under /admin, and CORS for *origins*."""
    app = Flask(__name__)
    cors.init_app(app, origins)
    app.add_url_rule("/search", "search", lambda: "found")
    app.add_url_rule("/admin/page", "admin", lambda: "secret")
    return app.test_client()


def test_a_star_lets_any_origin_read_the_public_routes() -> None:
    api = app_allowing("*")

    assert api.get("/search", headers={"Origin": "https://any.example"}).headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in api.get("/admin/page", headers={"Origin": "https://any.example"}).headers


def test_without_allowed_origins_only_same_origin_pages_may_read() -> None:
    response = app_allowing().get("/search", headers={"Origin": SHOP})

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]  # the answer still depends on the origin for caches
