"""Every error the API returns: JSON with a code, the field at fault and one sentence.

Errors from ``plugin`` are mapped to HTTP statuses here, once.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from plugin.errors import (
    CorruptImage,
    EngineUnavailable,
    ImageTooLarge,
    ImageTooSmall,
    NotAnImage,
    PathNotAllowed,
    SourceError,
    UnsafeURL,
    UnsupportedSource,
)

RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def source_error(exc: SourceError, field: str) -> ApiError:
    """The status a query photo's fault deserves: 413 too large, 415 not an image, 422 undecodable, 400 refused."""
    if isinstance(exc, ImageTooLarge):
        status = 413
    elif isinstance(exc, NotAnImage):
        status = 415
    elif isinstance(exc, (CorruptImage, ImageTooSmall)):
        status = 422
    elif isinstance(exc, (UnsafeURL, UnsupportedSource, PathNotAllowed)):
        status = 400
    else:  # the URL's server failed or refused: the request cannot be served as given
        status = 422
    return ApiError(status, exc.reason, str(exc), field)


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return _json(exc.status, exc.code, exc.message, exc.field)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return _json(413, "upload_too_large", f"The request is larger than the limit of {limit} bytes.", "image")

    @app.errorhandler(EngineUnavailable)
    @app.errorhandler(OpenSearchConnectionError)
    @app.errorhandler(ConnectionTimeout)
    def _unavailable(exc: Exception) -> Response:
        response = _json(503, "search_unavailable", "The search cluster cannot be reached; try again shortly.", None)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return _json(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or exc.name, None)


def _json(status: int, code: str, message: str, field: str | None) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if field:
        body["error"]["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response
