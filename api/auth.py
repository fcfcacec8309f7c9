"""The admin key: an ``X-API-Key`` header, or a login form that opens a server-side session.

With no key configured the admin views refuse everything (403) instead of being open, and say
which variable to set. A login is a random session id, recorded where every API process sees
it (:mod:`plugin.opensearch.sessions`) and carried by an HttpOnly cookie signed with an HMAC
under the key: logging out ends the session everywhere, and a new key ends every session.
Keys, signatures and tokens are compared in constant time.

A request that changes something and rides on the cookie must come from the admin's own pages
(:func:`check_same_site`): its ``Origin`` (or ``Referer``) is this server's, and it carries a
token bound to the session (before login, to a login cookie), which another site cannot read.
A request with the key in a header needs neither: a page of another site cannot send headers
of its choosing here (no CORS for ``/admin``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import g, request

from plugin.errors import LookalikeError

COOKIE = "lookalike_admin"
#: The cookie a login form is bound to before there is a session (a signed double-submit token).
LOGIN_COOKIE = "lookalike_login"
#: How long a login lasts, in seconds.
SESSION_SECONDS = 8 * 3600
#: Where a form sends its anti-forgery token, and where a script sends it instead.
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing, so need no token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: What ``secrets.token_urlsafe(32)`` makes: a session id or a login cookie's value.
_RANDOM_ID = re.compile(r"[A-Za-z0-9_-]{43}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class AdminRefused(LookalikeError):
    """The request may not see the admin views; :mod:`api.errors` gives each kind its status."""

    reason = "admin_refused"


class AdminOff(AdminRefused):
    """No admin key is configured, so the admin views refuse everyone (403)."""

    reason = "forbidden"


class AdminKeyRequired(AdminRefused):
    """The request carries neither the admin key nor a valid login cookie (401)."""

    reason = "unauthorized"


class WrongAdminKey(AdminKeyRequired):
    """A key was given and it is not the admin key (401); counted against the client (:mod:`api.limits`)."""


class CsrfRefused(AdminRefused):
    """A state-changing request on the login cookie that did not come from the admin's own page (403)."""

    reason = "csrf_refused"


#: What a refused request is told when no key is configured.
ADMIN_OFF = "The admin views are off: set LOOKALIKE_ADMIN_KEY to a secret to turn them on."


def require_admin(admin_key: str | None, session_open: Callable[[str], bool]) -> str | None:
    """Let the request in by its ``X-API-Key`` header (None) or its login cookie (the session id).

    *session_open* says whether a session id, correctly signed, is still open on the server.
    Raises :class:`AdminRefused`: a wrong key in the header is refused even beside a valid
    cookie, and recorded as a failed attempt (:func:`failed_attempt`).
    """
    if not admin_key:
        raise AdminOff(ADMIN_OFF)
    supplied = request.headers.get("X-API-Key")
    if supplied is not None:
        if key_matches(admin_key, supplied):
            return None
        record_failure()
        raise WrongAdminKey("That is not the admin key (header X-API-Key).")
    session_id = cookie_session(admin_key, request.cookies.get(COOKIE))
    if session_id is not None and session_open(session_id):
        return session_id
    raise AdminKeyRequired("The admin views need the admin key (header X-API-Key, or log in).")


def key_matches(admin_key: str, supplied: str) -> bool:
    """Whether *supplied* is the admin key, in time independent of where they differ."""
    return hmac.compare_digest(supplied.encode(), admin_key.encode())


def new_session(admin_key: str) -> tuple[str, str]:
    """A new session id, and the login cookie's value that carries it."""
    session_id = secrets.token_urlsafe(32)
    return session_id, f"{session_id}.{_sign(admin_key, 'session', session_id)}"


def cookie_session(admin_key: str, cookie: str | None) -> str | None:
    """The session id a login cookie carries, when the cookie is well formed and signed under *admin_key*."""
    session_id, _, signature = (cookie or "").partition(".")
    if not _RANDOM_ID.fullmatch(session_id) or not _SIGNATURE.fullmatch(signature):
        return None  # checked first: a 5,000-digit value is refused as cheaply as any other
    if not hmac.compare_digest(signature.encode(), _sign(admin_key, "session", session_id).encode()):
        return None
    return session_id


def new_login_binding() -> str:
    """A login cookie's value: random, so that the login form's token cannot be guessed."""
    return secrets.token_urlsafe(32)


def login_binding(cookie: str | None) -> str | None:
    """The login cookie's value when it is one this server could have made."""
    return cookie if cookie is not None and _RANDOM_ID.fullmatch(cookie) else None


def csrf_token(admin_key: str, binding: str) -> str:
    """The anti-forgery token of the pages served to *binding* (a session id, or a login cookie's value)."""
    return _sign(admin_key, "csrf", binding)


def check_same_site(admin_key: str, binding: str | None) -> None:
    """Raise :class:`CsrfRefused` unless the request comes from the admin's own page.

    It must not name another origin (``Origin``, else ``Referer``; configured CORS origins do
    not count here), and must carry the token of *binding* in the form field :data:`CSRF_FIELD`
    or the header :data:`CSRF_HEADER`.
    """
    if not _from_this_origin():
        raise CsrfRefused("The request came from another site's page.")
    supplied = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    expected = csrf_token(admin_key, binding) if binding else ""
    if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise CsrfRefused("The request lacks the page's anti-forgery token: reload the page and try again.")


def record_failure() -> None:
    """Mark this request as a failed admin authentication, which :mod:`api.limits` counts per client."""
    g.lookalike_admin_failed = True


def failed_attempt() -> bool:
    """Whether this request tried a wrong admin key."""
    return bool(g.get("lookalike_admin_failed", False))


def authentication_attempt() -> bool:
    """Whether this request offers the admin key (header or login form): what a locked-out client is refused."""
    if "X-API-Key" in request.headers:
        return True
    if request.blueprint == "metrics":  # the scrape takes a Bearer key; elsewhere a proxy's own Authorization is no attempt
        return request.authorization is not None and request.authorization.type == "bearer"
    return request.endpoint == "admin.login" and request.method == "POST"


def _from_this_origin() -> bool:
    own = f"{request.scheme}://{request.host}".lower()
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() == own  # "null" (a sandboxed or privacy-stripped page) is another site
    referer = request.headers.get("Referer")
    if referer is None:
        return True  # browsers name the origin of every cross-site POST; the token still decides
    try:
        parts = urlsplit(referer)
    except ValueError:
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() == own


def _sign(admin_key: str, purpose: str, value: str) -> str:
    return hmac.new(admin_key.encode(), f"lookalike-admin|{purpose}|{value}".encode(), hashlib.sha256).hexdigest()
