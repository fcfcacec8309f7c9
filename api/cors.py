"""Cross-origin access for a shop's own pages: the public search routes and the widget, never /admin.

A shop that embeds the widget serves its pages from its own origin; the browser lets that
page read our responses only if we name the origin. The allowed origins come from the
configuration (``LOOKALIKE_CORS_ORIGINS``); with none set, only same-origin pages may call.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, current_app, request

#: Paths a shop's page may call from another origin. The admin views are not among them.
PUBLIC_PREFIXES = ("/search", "/events", "/saved-searches", "/products/", "/thumbnails/", "/widget.js", "/static/")


def init_app(app: Flask, origins: Iterable[str]) -> None:
    """Add CORS headers to the public routes' responses for the allowed *origins* (``*``: any)."""
    app.extensions["lookalike.cors"] = frozenset(origins)
    app.after_request(add_cors_headers)


def add_cors_headers(response: Response) -> Response:
    """*response* with the headers that let an allowed origin's page read it, on the public routes only."""
    if not request.path.startswith(PUBLIC_PREFIXES):
        return response
    response.vary.add("Origin")  # caches must not hand one origin's answer to another
    allowed: frozenset[str] = current_app.extensions["lookalike.cors"]
    origin = request.headers.get("Origin")
    if not origin or not allowed:
        return response
    if "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
    else:
        return response
    # The shop's page may read where a search's time went, as its own page would: in the
    # browser's resource timings (Timing-Allow-Origin) and from fetch() (the exposed header).
    response.headers["Timing-Allow-Origin"] = response.headers["Access-Control-Allow-Origin"]
    # Retry-After tells the page when a 429 or 503 may pass; X-Request-Id is what a shop quotes to us.
    response.headers["Access-Control-Expose-Headers"] = "Server-Timing, Retry-After, X-Request-Id"
    if request.method == "OPTIONS":  # a preflight: Flask answers OPTIONS for every route itself
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE"  # DELETE: a shopper forgets a saved search
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
