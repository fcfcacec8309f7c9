"""The public pages: the search page at ``/``, its static files, and the shop widget at ``/widget.js``.

Pages are server-rendered and small; the JavaScript is deferred so nothing blocks the first
paint, and static files carry a version in their URL so browsers may cache them for a day.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, render_template, send_from_directory, url_for

from plugin.search.profiles import PROFILES
from plugin.search.request import Sort

STATIC = Path(__file__).parent / "static"
#: Seconds a browser may keep a static file; its URL changes when the file does.
STATIC_MAX_AGE = 24 * 3600
#: The widget's URL is fixed (shops paste it), so it is cached for an hour only.
WIDGET_MAX_AGE = 3600
#: No inline scripts anywhere; inline styles only for sizes the scripts set.
CSP = "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'"


bp = Blueprint("pages", __name__, static_folder=None)


@bp.get("/")
def search_page() -> Response:
    """The shopper's search page: photo, words, region, filters, sorting and results."""
    response = Response(render_template("search.html", sorts=[sort.value for sort in Sort], profiles=PROFILES))
    response.headers["Content-Security-Policy"] = CSP
    return response


@bp.get("/static/<path:filename>")
def static_file(filename: str) -> Response:
    return send_from_directory(STATIC, filename, max_age=STATIC_MAX_AGE)


@bp.get("/widget.js")
def widget() -> Response:
    """The drop-in widget a shop adds to its own search box with one ``<script>`` tag."""
    return send_from_directory(STATIC, "widget.js", max_age=WIDGET_MAX_AGE, mimetype="text/javascript")


@bp.app_context_processor
def _static_url() -> dict[str, object]:
    return {"static_url": static_url}


def static_url(filename: str) -> str:
    """The URL of a static file, with its modification time so a new version is fetched at once."""
    version = int((STATIC / filename).stat().st_mtime)
    return url_for("pages.static_file", filename=filename, v=version)
