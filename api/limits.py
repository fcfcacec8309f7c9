"""Per-client rate limits with Flask-Limiter: searches, searches that fetch a photo by URL, wrong admin keys.

The counters live in the Redis the product already runs (``LOOKALIKE_RATE_LIMIT_STORAGE``, else
the broker's), so every API process counts the same client together. When that Redis cannot be
reached, each process counts in its own memory until it comes back: the API never fails
because the limiter's store is down.

A client is its peer address; behind ``LOOKALIKE_TRUSTED_PROXIES`` reverse proxies it is the
address they forwarded (werkzeug's ``ProxyFix``). A client over a limit is answered 429 with
``Retry-After`` and the API's JSON error body. Wrong admin keys are counted per client and only
they (:func:`api.auth.failed_attempt`); past the limit every attempt with a key, the right one
included, is refused until the window passes, so a key cannot be guessed at speed.
"""

from __future__ import annotations

import ipaddress
import math
import time
from typing import Any

from flask import Flask, Response, current_app
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from api.auth import authentication_attempt, failed_attempt
from api.errors import error_response
from api.schemas import SearchBody
from plugin.config import Config, LimitsConfig
from plugin.errors import ConfigError

#: The route every search goes through.
SEARCH_ENDPOINT = "search.search_products"
#: Shopper events: counted against the search limit, which a page's batches stay far below.
EVENTS_ENDPOINT = "events.post_events"
#: Saving a search embeds a photo or words, as a search does: counted against the search limit.
SAVE_ENDPOINT = "saved_searches.post_saved_search"
#: Recommendations cost a few searches each: they count against the search limit, in a scope of their own.
RECOMMENDATION_ENDPOINTS = ("recommendations.for_product", "recommendations.for_shopper")
#: Blueprints that take the admin key: wrong keys on any of them count against one limit.
KEYED_BLUEPRINTS = ("admin", "metrics")
#: Seconds the limiter waits for its Redis before counting in memory instead.
STORAGE_TIMEOUT = 1.0
#: Each setting and the variable that sets it, for messages about a malformed one.
VARIABLES = {
    "search": "LOOKALIKE_RATE_LIMIT_SEARCH",
    "url_fetch": "LOOKALIKE_RATE_LIMIT_URL_FETCH",
    "admin_failures": "LOOKALIKE_RATE_LIMIT_ADMIN_FAILURES",
}


def init_app(app: Flask, config: Config) -> Limiter:
    """Identify clients (through trusted proxies), and apply :attr:`Config.limits` to the app's routes.

    Call it after the blueprints are registered: the search route is wrapped where it stands.
    Raises :class:`~plugin.errors.ConfigError` for a limit that is not in ``limits`` notation.
    """
    if config.serve.trusted_proxies > 0:
        hops = config.serve.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    settings = config.limits
    _check(settings)
    storage = storage_url(config)
    limiter = Limiter(
        lambda: client_key(get_remote_address()),
        app=app,
        storage_uri=storage,
        storage_options=_storage_options(storage),
        key_prefix=config.index_alias,  # two shops on one Redis count apart
        in_memory_fallback_enabled=True,
        swallow_errors=True,  # a store lost between the check and the count must not fail the request
    )
    app.extensions["lookalike.limiter"] = limiter
    if settings.search:
        app.view_functions[SEARCH_ENDPOINT] = limiter.limit(
            settings.search, methods=["POST"], error_message=f"Too many searches from this address ({settings.search})."
        )(app.view_functions[SEARCH_ENDPOINT])
        app.view_functions[EVENTS_ENDPOINT] = limiter.limit(
            settings.search, methods=["POST"], scope="events", error_message=f"Too many event batches from this address ({settings.search})."
        )(app.view_functions[EVENTS_ENDPOINT])
        app.view_functions[SAVE_ENDPOINT] = limiter.limit(
            settings.search, methods=["POST"], scope="saved-searches", error_message=f"Too many saved searches from this address ({settings.search})."
        )(app.view_functions[SAVE_ENDPOINT])
        recommendations = limiter.shared_limit(
            settings.search, scope="recommendations", error_message=f"Too many recommendation requests from this address ({settings.search})."
        )
        for endpoint in RECOMMENDATION_ENDPOINTS:
            app.view_functions[endpoint] = recommendations(app.view_functions[endpoint])
    # Whether a search fetches by URL is known once its body is read, which only the route may do
    # (a multipart body can be read once): the route calls count_url_fetch, limited here.
    app.extensions["lookalike.url_fetch"] = limiter.limit(
        settings.url_fetch, scope="url-fetch",
        error_message=f"Too many searches by image_url from this address ({settings.url_fetch}).",
    )(_url_fetch) if settings.url_fetch else _url_fetch
    if settings.admin_failures:
        wrong_keys = limiter.shared_limit(
            settings.admin_failures, scope="admin-failures",
            exempt_when=lambda: not authentication_attempt(), deduct_when=lambda _: failed_attempt(),
            error_message=f"Too many wrong admin keys from this address ({settings.admin_failures}).",
        )
        for name in KEYED_BLUEPRINTS:
            if name in app.blueprints:
                wrong_keys(app.blueprints[name])
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    return limiter


def client_key(address: str) -> str:
    """Who a peer address is, for limits: the address itself, or for IPv6 its /64.

    One IPv6 host is usually handed a whole /64, and could otherwise take a new address for
    every request; a network that size is one subscriber, as one IPv4 address is.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address (a Unix socket's peer, a test client's name): itself
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # an IPv4 client on a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def count_url_fetch(body: SearchBody) -> None:
    """Count a search that fetches its photo by ``image_url`` against its client's limit; raise 429 past it."""
    if body.image_url:
        current_app.extensions["lookalike.url_fetch"]()


def storage_url(config: Config) -> str:
    """Where the counters live: the configured store, else the broker's Redis."""
    return config.limits.storage_url or config.ingest.broker_url


def too_many_requests(exc: RateLimitExceeded) -> Response:
    """The 429 answer: the API's JSON error body, and ``Retry-After`` in seconds."""
    seconds = retry_after(exc)
    response = error_response(429, "too_many_requests", f"{exc.description} Try again in {seconds} s.")
    response.headers["Retry-After"] = str(seconds)
    return response


def retry_after(exc: RateLimitExceeded) -> int:
    """Seconds until the breached limit's window lets the client in again."""
    limiter: Limiter = current_app.extensions["lookalike.limiter"]
    breached = limiter.current_limit
    try:
        reset_at: float | None = breached.window.reset_time if breached is not None else None
    except Exception:  # the store went away since the breach (any client library's error): the whole window is safe
        reset_at = None
    if reset_at is None:
        return int(exc.limit.limit.get_expiry())
    return max(1, math.ceil(reset_at - time.time()))


def _url_fetch() -> None:
    """Nothing: Flask-Limiter counts each call of this function, wrapped, per client."""


def _check(settings: LimitsConfig) -> None:
    for name, variable in VARIABLES.items():
        value: str = getattr(settings, name)
        try:
            parse_many(value) if value else None
        except ValueError as exc:
            raise ConfigError(f"{variable}: {value!r} is not a rate limit such as '10/minute' or '100/hour;5/second' ({exc})") from exc


def _storage_options(storage: str) -> dict[str, Any]:
    if storage.startswith(("redis://", "rediss://", "redis+unix://")):
        return {"socket_connect_timeout": STORAGE_TIMEOUT, "socket_timeout": STORAGE_TIMEOUT}
    return {}


__all__ = ["client_key", "count_url_fetch", "init_app", "retry_after", "storage_url", "too_many_requests"]
