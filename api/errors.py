"""Every error the API returns: JSON with a code, the field at fault and one sentence.

Errors of the product (:class:`plugin.errors.LookalikeError`) are mapped to HTTP statuses by
one table, :data:`STATUS`, looked up along the exception's MRO as Flask looks up handlers:
the most specific class listed wins. The code in the body is the error's ``reason``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import Flask, Response, current_app, jsonify
from opensearchpy.exceptions import TransportError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    RequestEntityTooLarge,
)

from api import logs
from api.auth import AdminKeyRequired, AdminOff, CsrfRefused
from plugin.errors import (
    BrokerUnavailable,
    CorruptImage,
    EngineBusy,
    EngineUnavailable,
    EventsNotStored,
    FetchTimedOut,
    ImageNotInProduct,
    ImageTooLarge,
    ImageTooSmall,
    IndexMissing,
    LookalikeError,
    ModelMismatch,
    NotAnImage,
    PathNotAllowed,
    ProductNotFound,
    ProductTakenDown,
    RetryAlreadyRunning,
    SavedSearchLimit,
    SavedSearchNotFound,
    SearchFailed,
    SourceError,
    TakedownNotFound,
    TooManyFetches,
    UnsafeURL,
    UnsupportedSource,
)
from plugin.opensearch.client import engine_error

#: Seconds a client is asked to wait before retrying a 503 that may pass.
RETRY_AFTER_SECONDS = 5


class Answer(NamedTuple):
    """How the API answers an error class: the HTTP status, and a fixed sentence where the
    error's own message names internals (hosts, ports) that a shopper must not see."""

    status: int
    message: str | None = None


#: Error class → answer. Listing a base class covers its subclasses that are not listed.
STATUS: dict[type[LookalikeError], Answer] = {
    ImageTooLarge: Answer(413),
    NotAnImage: Answer(415),
    CorruptImage: Answer(422),
    ImageTooSmall: Answer(422),
    UnsafeURL: Answer(400),
    UnsupportedSource: Answer(400),
    PathNotAllowed: Answer(400),
    FetchTimedOut: Answer(422),  # the photo's server was too slow: the request cannot be served as given
    TooManyFetches: Answer(429),
    SourceError: Answer(422),  # the URL's server failed or refused: the request cannot be served as given
    EngineUnavailable: Answer(503, "The search cluster is not available; try again shortly."),
    EngineBusy: Answer(503, "The search cluster is overloaded; try again shortly."),
    IndexMissing: Answer(503, "No catalogue is indexed yet."),
    ModelMismatch: Answer(503),
    BrokerUnavailable: Answer(503),
    RetryAlreadyRunning: Answer(409),
    TakedownNotFound: Answer(404),
    SavedSearchNotFound: Answer(404),
    SavedSearchLimit: Answer(409),
    EventsNotStored: Answer(503, "The events could not be stored now; send them again shortly."),
    ProductNotFound: Answer(404),
    ImageNotInProduct: Answer(422),
    ProductTakenDown: Answer(410),
    SearchFailed: Answer(502, "The search cluster could not run the search."),
    AdminKeyRequired: Answer(401),
    AdminOff: Answer(403),
    CsrfRefused: Answer(403),
}


class ApiError(LookalikeError):
    """A fault the API finds in a request, with the status it answers and the field at fault.

    Its :attr:`reason` is the code in the JSON body, given by whoever raises it.
    """

    reason = "invalid_request"

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.field = status, code, message, field

    @classmethod
    def about(cls, exc: LookalikeError, field: str | None, code: str | None = None) -> ApiError:
        """*exc* answered with its table status and its reason (or *code*), naming *field*."""
        return cls(answer_for(exc).status, code or exc.reason, str(exc), field)


def answer_for(exc: LookalikeError) -> Answer:
    """The answer of the most specific class of *exc* in :data:`STATUS`; 500 for a class not listed."""
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), Answer(500))


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    """The JSON error body every route answers with: ``{"error": {"code", "message", "field"?}}``."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if field:
        body["error"]["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    """Answer every mapped error, every HTTP error and a lost cluster with a JSON error body."""
    app.register_error_handler(ApiError, _api_error)
    for error_class in STATUS:
        app.register_error_handler(error_class, _product_error)
    app.register_error_handler(TransportError, _engine_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http)


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.reason, exc.message, exc.field)


def _product_error(exc: LookalikeError) -> Response:
    answer = answer_for(exc)
    if answer.message:  # the client reads a fixed sentence; the log keeps what happened
        logs.note_cause(f"{type(exc).__name__}: {exc}")
    response = error_response(answer.status, exc.reason, answer.message or str(exc))
    if answer.status in (429, 503) and exc.retryable:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _engine_error(exc: TransportError) -> Response:
    """A failed call to the cluster: an engine state (down, starting, overloaded) as its product error, else a 500."""
    product_error = engine_error(exc)
    if product_error is None:  # a request the cluster refused: a fault of ours, worth a traceback
        current_app.log_exception((type(exc), exc, exc.__traceback__))
        return _http(InternalServerError())
    return _product_error(product_error)


def _too_large(exc: RequestEntityTooLarge) -> Response:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return error_response(413, "upload_too_large", f"The request is larger than the limit of {limit} bytes.", "image")


def _http(exc: HTTPException) -> Response:
    return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or exc.name)
