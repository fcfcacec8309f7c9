"""The application factory: one :class:`~api.service.SearchService`, the blueprints, the error handlers.

Routes live in :mod:`api.search` (the public JSON API), :mod:`api.pages` (the search page and
the widget) and :mod:`api.admin`; they find their services in ``app.extensions``.
"""

from __future__ import annotations

import dataclasses

from flask import Flask, Response, g

from api import admin, cors, errors, pages, search
from api.photos import MAX_PHOTO_BYTES
from api.service import SearchService
from plugin import timing
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import usable_cores


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
    cors.init_app(app, config.cors_origins)
    _server_timing(app)
    for blueprint in (search.bp, pages.bp, admin.bp):
        app.register_blueprint(blueprint)
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


def request_threads() -> int:
    """Waitress threads by default: two per core (``lookalike bench load`` chose it; README, Performance).

    Enough requests in flight to keep the API and the OpenSearch node beside it busy, few
    enough that each finishes soon: more threads share the cores among more requests and
    stretch the slowest ones (p99 1.8 x p50 with 8 or 16 threads on 2 cores, 1.5 with 4).
    """
    return 2 * usable_cores()


def serve(config: Config, host: str, port: int, threads: int | None = None) -> None:
    """Serve the API with waitress, a production WSGI server.

    Requests run in parallel, so each runs the model on one thread unless
    ``LOOKALIKE_INFERENCE_THREADS`` says otherwise, and numpy's BLAS on one thread: idle
    threads of a wider pool spin between the small products a query needs, which cost the
    API 95 ms of CPU per query instead of 16 (``lookalike bench load``).
    """
    from threadpoolctl import threadpool_limits
    from waitress import serve as waitress_serve

    threadpool_limits(1, user_api="blas")
    config = dataclasses.replace(config, inference_threads=config.inference_threads or 1)
    waitress_serve(create_app(config), host=host, port=port, threads=threads or request_threads())


__all__ = ["create_app", "request_threads", "serve"]
