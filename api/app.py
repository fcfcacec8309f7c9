"""The application factory: one :class:`~api.service.SearchService`, the blueprints, the error handlers.

Routes live in :mod:`api.search` (the public JSON API), :mod:`api.pages` (the search page and
the widget) and :mod:`api.admin`; they find their services in ``app.extensions``.
"""

from __future__ import annotations

from flask import Flask

from api import admin, cors, errors, pages, search
from api.photos import MAX_PHOTO_BYTES
from api.service import SearchService
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
    cors.init_app(app, config.cors_origins)
    for blueprint in (search.bp, pages.bp, admin.bp):
        app.register_blueprint(blueprint)
    return app


def serve(config: Config, host: str, port: int, threads: int) -> None:
    """Serve the API with waitress, a production WSGI server."""
    from waitress import serve as waitress_serve

    waitress_serve(create_app(config), host=host, port=port, threads=threads)


__all__ = ["create_app", "serve"]
