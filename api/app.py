"""The application factory: one :class:`~api.service.SearchService`, the blueprints, the error handlers.

Routes live in :mod:`api.search` (the public JSON API), :mod:`api.pages` (the search page and
the widget) and :mod:`api.admin`; they find their services in ``app.extensions``.
"""

from __future__ import annotations

from flask import Flask, Response, g

from api import (
    admin,
    cors,
    errors,
    events,
    limits,
    logs,
    metrics,
    pages,
    recommendations,
    saved_searches,
    search,
)
from api.photos import MAX_PHOTO_BYTES
from api.service import SearchService
from plugin import timing
from plugin.config import Config
from plugin.models.base import EmbeddingBackend


def create_app(config: Config | None = None, backend: EmbeddingBackend | None = None, warm: bool = True) -> Flask:
    """The API for *config* (from the environment by default), with *backend* or the configured model.

    With *warm*, the models run once now, so the first shopper does not wait for their set-up.
    """
    config = config or Config.from_env()
    app = Flask(__name__, static_folder=None)  # api/pages.py serves static files, with cache headers
    app.config["MAX_CONTENT_LENGTH"] = MAX_PHOTO_BYTES + 64 * 1024  # the photo and the form's other fields
    app.json.sort_keys = False  # type: ignore[attr-defined]
    service = SearchService.build(config, backend, warm=warm)
    app.extensions["lookalike"] = service
    app.extensions["lookalike.ingest"] = admin.IngestMonitor(service.client, config)
    errors.init_app(app)
    logs.init_app(app)  # an X-Request-Id on every response and log line; one line per failed request
    cors.init_app(app, config.cors_origins)
    _server_timing(app)
    metrics.init_app(app, service)  # /metrics, and every request counted and timed
    for blueprint in (search.bp, events.bp, recommendations.bp, saved_searches.bp, pages.bp, admin.bp):
        app.register_blueprint(blueprint)
    limits.init_app(app, config)  # per-client rate limits; after the blueprints, whose routes it wraps
    return app


def _server_timing(app: Flask) -> None:
    """Time every request's stages (:mod:`plugin.timing`) and send them as a ``Server-Timing`` header.

    Only responses whose request timed a stage carry it (searches, not static files), and
    error responses too: a slow failure is as worth seeing as a slow answer.
    """

    @app.before_request
    def open_recorder() -> None:
        g.stage_timings_token = timing.start()

    @app.after_request
    def add_header(response: Response) -> Response:
        timings = timing.current()
        if timings is not None and timings.stages:
            response.headers["Server-Timing"] = timings.header()
        return response

    @app.teardown_request
    def close_recorder(_: BaseException | None) -> None:
        token = g.pop("stage_timings_token", None)
        if token is not None:
            timing.finish(token)


__all__ = ["create_app"]
