"""The admin key (``api/auth.py``): the header, the signed login cookie, and off when no key is set."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.app import create_app
from api.auth import (
    COOKIE,
    AdminKeyRequired,
    AdminOff,
    AdminRefused,
    key_matches,
    require_admin,
    session_token,
    session_valid,
)
from plugin.config import Config
from plugin.errors import LookalikeError
from tests.support.api import KEY


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


@pytest.mark.parametrize("token", ["", "123", "not-a-number.abc", f"{session_token(KEY).partition('.')[0]}.{'0' * 64}"])
def test_a_forged_or_malformed_cookie_is_not_a_login(token: str) -> None:
    assert not session_valid(KEY, token)


def test_the_key_must_match_exactly() -> None:
    assert key_matches(KEY, KEY)
    assert not key_matches(KEY, KEY.upper()) and not key_matches(KEY, KEY[:-1]) and not key_matches(KEY, "")


def refusal_of(admin_key: str | None, headers: dict[str, str] | None = None) -> type[AdminRefused] | None:
    """What :func:`require_admin` raises for a request with *headers*, or None when it lets it through."""
    with Flask(__name__).test_request_context("/admin/", headers=headers or {}):
        try:
            require_admin(admin_key)
        except AdminRefused as exc:
            return type(exc)
    return None


def test_a_request_needs_the_key_in_a_header_or_a_valid_cookie() -> None:
    assert refusal_of(None, {"X-API-Key": ""}) is AdminOff
    assert refusal_of("", {"X-API-Key": ""}) is AdminOff
    assert refusal_of(KEY) is AdminKeyRequired
    assert refusal_of(KEY, {"X-API-Key": "wrong"}) is AdminKeyRequired
    assert refusal_of(KEY, {"X-API-Key": KEY}) is None
    assert refusal_of(KEY, {"Cookie": f"{COOKIE}={session_token(KEY)}"}) is None
    assert refusal_of(KEY, {"Cookie": f"{COOKIE}={session_token('old key')}"}) is AdminKeyRequired


def test_refusals_are_product_errors_with_stable_reasons() -> None:
    assert issubclass(AdminRefused, LookalikeError)
    assert (AdminOff.reason, AdminKeyRequired.reason) == ("forbidden", "unauthorized")
