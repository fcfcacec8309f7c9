"""The admin key: an ``X-API-Key`` header, or a login form that sets a signed, HttpOnly cookie.

With no key configured the admin views refuse everything (403) instead of being open, and say
which variable to set. Keys and cookies are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import request

from plugin.errors import LookalikeError

COOKIE = "lookalike_admin"
#: How long a login lasts, in seconds.
SESSION_SECONDS = 8 * 3600


class AdminRefused(LookalikeError):
    """The request may not see the admin views; :mod:`api.errors` gives each kind its status."""

    reason = "admin_refused"


class AdminOff(AdminRefused):
    """No admin key is configured, so the admin views refuse everyone (403)."""

    reason = "forbidden"


class AdminKeyRequired(AdminRefused):
    """The request carries neither the admin key nor a valid login cookie (401)."""

    reason = "unauthorized"


#: What a refused request is told when no key is configured.
ADMIN_OFF = "The admin views are off: set LOOKALIKE_ADMIN_KEY to a secret to turn them on."


def require_admin(admin_key: str | None) -> None:
    """Raise :class:`AdminRefused` unless the request carries the admin key or a valid login cookie."""
    if not admin_key:
        raise AdminOff(ADMIN_OFF)
    supplied = request.headers.get("X-API-Key")
    if supplied is not None and key_matches(admin_key, supplied):
        return
    cookie = request.cookies.get(COOKIE)
    if cookie is not None and session_valid(admin_key, cookie):
        return
    raise AdminKeyRequired("The admin views need the admin key (header X-API-Key, or log in).")


def key_matches(admin_key: str, supplied: str) -> bool:
    """Whether *supplied* is the admin key, in time independent of where they differ."""
    return hmac.compare_digest(supplied.encode(), admin_key.encode())


def session_token(admin_key: str, now: float | None = None) -> str:
    """A login cookie's value: its expiry and an HMAC of it under the key (a new key ends all logins)."""
    expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
    return f"{expires}.{_sign(admin_key, expires)}"


def session_valid(admin_key: str, token: str) -> bool:
    """Whether *token* is a login cookie signed under *admin_key* that has not expired."""
    expires, _, signature = token.partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(signature.encode(), _sign(admin_key, int(expires)).encode())


def _sign(admin_key: str, expires: int) -> str:
    return hmac.new(admin_key.encode(), f"lookalike-admin|{expires}".encode(), hashlib.sha256).hexdigest()
