"""The admin key (``api/auth.py``): the header, server-side sessions behind a signed cookie, and off when no key is set."""

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
    CsrfRefused,
    WrongAdminKey,
    check_same_site,
    cookie_session,
    csrf_token,
    key_matches,
    new_session,
    require_admin,
)
from plugin.config import Config
from plugin.errors import LookalikeError
from tests.support.api import KEY, log_in, page_token


def test_without_a_configured_key_the_admin_is_off_not_open(app_config: Config) -> None:
    api = create_app(dataclasses.replace(app_config, admin_key=None), warm=False).test_client()

    for path in ("/admin/", "/admin/api/index", "/admin/login"):
        response = api.get(path, headers={"X-API-Key": ""})
        assert response.status_code == 403
        assert b"LOOKALIKE_ADMIN_KEY" in response.data
    assert api.post("/admin/login", data={"key": ""}).status_code == 403
    assert api.post("/search", json={"text": "tent", "size": 1}).status_code == 200  # the search stays open


def test_logging_in_opens_a_session_behind_an_httponly_cookie(app_config: Config) -> None:
    api = create_app(app_config, warm=False).test_client()

    login = log_in(api, next_path="https://evil.example/")

    assert login.status_code == 303 and login.headers["Location"] == "/admin/"  # no open redirect
    cookie = api.get_cookie(COOKIE, path="/admin")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    assert cookie_session(KEY, cookie.value) is not None
    assert api.get("/admin/api/index").status_code == 200  # the test client kept the cookie


def test_a_copied_cookie_stops_working_when_its_session_logs_out(app_config: Config) -> None:
    app = create_app(app_config, warm=False)
    browser, thief = app.test_client(), app.test_client()
    log_in(browser)
    copied = browser.get_cookie(COOKIE, path="/admin")
    assert copied is not None
    thief.set_cookie(COOKIE, copied.value, path="/admin")
    assert thief.get("/admin/api/index").status_code == 200

    page = browser.get("/admin/")
    logout = browser.post("/admin/logout", data={"csrf_token": page_token(page)})

    assert logout.status_code == 303
    assert thief.get("/admin/api/index").status_code == 401  # ended on the server, not only in the browser
    assert browser.get("/admin/api/index").status_code == 401


def test_a_new_admin_key_ends_every_session(app_config: Config) -> None:
    before = create_app(app_config, warm=False).test_client()
    log_in(before)
    cookie = before.get_cookie(COOKIE, path="/admin")
    assert cookie is not None

    after = create_app(dataclasses.replace(app_config, admin_key="a-new-key"), warm=False).test_client()
    after.set_cookie(COOKIE, cookie.value, path="/admin")

    assert after.get("/admin/api/index").status_code == 401


@pytest.mark.parametrize(
    "cookie",
    ["", "123", "not-a-number.abc", "9" * 5000, "9" * 5000 + "." + "0" * 64, f"{'A' * 43}.{'0' * 64}", f"{'A' * 43}.{'²' * 64}"],
)
def test_a_forged_or_malformed_cookie_is_not_a_login(api: FlaskClient, cookie: str) -> None:
    assert cookie_session(KEY, cookie) is None
    # In the header as a client sends it (the test client warns about cookies larger than browsers keep).
    assert api.get("/admin/api/index", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 401  # never a 500


def test_a_cookie_is_signed_under_the_key() -> None:
    session_id, cookie = new_session(KEY)

    assert cookie_session(KEY, cookie) == session_id
    assert cookie_session("another key", cookie) is None
    assert cookie_session(KEY, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")) is None


def test_the_key_must_match_exactly() -> None:
    assert key_matches(KEY, KEY)
    assert not key_matches(KEY, KEY.upper()) and not key_matches(KEY, KEY[:-1]) and not key_matches(KEY, "")


def refusal_of(admin_key: str | None, headers: dict[str, str] | None = None, open_sessions: tuple[str, ...] = ()) -> type[AdminRefused] | None:
    """What :func:`require_admin` raises for a request with *headers*, or None when it lets it through."""
    with Flask(__name__).test_request_context("/admin/", headers=headers or {}):
        try:
            require_admin(admin_key, lambda session_id: session_id in open_sessions)
        except AdminRefused as exc:
            return type(exc)
    return None


def test_a_request_needs_the_key_in_a_header_or_the_cookie_of_an_open_session() -> None:
    session_id, cookie = new_session(KEY)
    assert refusal_of(None, {"X-API-Key": ""}) is AdminOff
    assert refusal_of("", {"X-API-Key": ""}) is AdminOff
    assert refusal_of(KEY) is AdminKeyRequired
    assert refusal_of(KEY, {"X-API-Key": "wrong"}) is WrongAdminKey
    assert refusal_of(KEY, {"X-API-Key": KEY}) is None
    assert refusal_of(KEY, {"Cookie": f"{COOKIE}={cookie}"}, open_sessions=(session_id,)) is None
    assert refusal_of(KEY, {"Cookie": f"{COOKIE}={cookie}"}) is AdminKeyRequired  # signed, but ended
    assert refusal_of(KEY, {"Cookie": f"{COOKIE}={cookie}", "X-API-Key": "wrong"}, open_sessions=(session_id,)) is WrongAdminKey


def same_site_refusal(headers: dict[str, str], form: dict[str, str] | None = None, binding: str = "session") -> str | None:
    """Why :func:`check_same_site` refuses a POST to ``http://admin.example/admin/x``, or None."""
    with Flask(__name__).test_request_context("/admin/x", base_url="http://admin.example", method="POST", headers=headers, data=form):
        try:
            check_same_site(KEY, binding)
        except CsrfRefused as exc:
            return str(exc)
    return None


def test_a_change_needs_our_own_origin_and_the_pages_token() -> None:
    token = csrf_token(KEY, "session")

    assert same_site_refusal({"Origin": "http://admin.example", "X-CSRF-Token": token}) is None
    assert same_site_refusal({"Referer": "http://admin.example/admin/ingest"}, {"csrf_token": token}) is None
    assert same_site_refusal({"X-CSRF-Token": token}) is None  # no browser: the token decides
    assert "another site" in (same_site_refusal({"Origin": "https://evil.example", "X-CSRF-Token": token}) or "")
    assert "another site" in (same_site_refusal({"Origin": "null", "X-CSRF-Token": token}) or "")
    assert "another site" in (same_site_refusal({"Referer": "https://evil.example/admin.example", "X-CSRF-Token": token}) or "")
    assert "token" in (same_site_refusal({"Origin": "http://admin.example"}) or "")
    assert "token" in (same_site_refusal({"X-CSRF-Token": csrf_token(KEY, "another session")}) or "")
    assert "token" in (same_site_refusal({"X-CSRF-Token": csrf_token("another key", "session")}) or "")


def test_refusals_are_product_errors_with_stable_reasons() -> None:
    assert issubclass(AdminRefused, LookalikeError)
    assert (AdminOff.reason, AdminKeyRequired.reason, WrongAdminKey.reason, CsrfRefused.reason) == (
        "forbidden", "unauthorized", "unauthorized", "csrf_refused",
    )
