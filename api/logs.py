"""A request id on every response and log line, and one log line per failed request.

Each request gets an id: the client's ``X-Request-Id`` when it is a sane one (up to
:data:`MAX_REQUEST_ID` letters, digits and ``._:-``, what proxies and tracing headers send),
else a new one. It goes back in the response's ``X-Request-Id`` and onto every log record made
while the request runs (``record.request_id``, from a context variable), so a shopper's
complaint, the proxy's log and the API's log meet on one value.

A failed request (status 400 and over) is logged once, in one line: method, path, status,
error code, request id, duration, and the cause the client was not shown. Only the
unexpected, a real 500, also has a traceback (Flask logs it). An outage thus costs one line
per request, not a traceback per request and per retry of the cluster's client.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from flask.logging import default_handler

log = logging.getLogger(__name__)

HEADER = "X-Request-Id"
#: Longest incoming request id kept; longer ones are replaced (a log line is no place for a payload).
MAX_REQUEST_ID = 128
_SANE_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID}}}")
#: C0, DEL and C1 control characters.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: How a log line reads when nobody configured logging (``lookalike serve``).
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

#: The id of the request this thread is serving; "-" outside a request.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_stamping = False


def init_app(app: Flask) -> None:
    """Give each request of *app* an id, and log each failed one in one line."""
    _stamp_every_record()
    _configure_if_unconfigured(app)
    # First of all before_request functions: a request a rate limit refuses has an id too.
    app.before_request_funcs.setdefault(None, []).insert(0, _open)
    app.after_request(_close)
    app.teardown_request(_forget)


def note_cause(cause: str) -> None:
    """Record why the current request failed, for its log line only (the client sees a sentence)."""
    g.request_cause = cause


def accepted_id(given: str | None) -> str:
    """*given* when it is a sane request id, else a new one."""
    if given and _SANE_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _open() -> None:
    g.request_started = time.perf_counter()
    g.request_id = accepted_id(request.headers.get(HEADER))
    g.request_id_token = request_id.set(g.request_id)


def _close(response: Response) -> Response:
    if "request_id" not in g:  # a before_request function registered ahead of ours answered first
        _open()
    response.headers[HEADER] = g.request_id
    if response.status_code >= 400:
        _log_failure(response)
    return response


def _log_failure(response: Response) -> None:
    body = response.get_json(silent=True) if response.is_json else None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code", "-") if isinstance(error, dict) else "-"
    milliseconds = (time.perf_counter() - g.request_started) * 1000
    cause = g.get("request_cause")
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    log.log(
        level, "%s %s %d %s %.1fms%s", request.method, loggable(without_shopper(request.path)[:200]), response.status_code, code, milliseconds,
        f" ({loggable(cause)})" if cause else "",
    )


#: A shopper's pseudonymous id in a path (``/users/<id>/recommendations``): kept out of the log,
#: which outlives the events' retention.
_SHOPPER_IN_PATH = re.compile(r"^/users/[^/]*")


def without_shopper(path: str) -> str:
    """*path* with a shopper's id replaced by ``…``."""
    return _SHOPPER_IN_PATH.sub("/users/…", path)


def loggable(text: str) -> str:
    """*text* with its control characters written as escapes: a path a client chose (``%0A``, ``%1b``
    arrive decoded) must not start a forged log line or send escape sequences to an operator's terminal."""
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _forget(_: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id.reset(token)


def _stamp_every_record() -> None:
    """Give every log record a ``request_id``, whichever logger made it and whichever handler formats it (once per process)."""
    global _stamping
    if _stamping:
        return
    _stamping = True
    factory = logging.getLogRecordFactory()

    def stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = request_id.get()
        return record

    logging.setLogRecordFactory(stamped)
    # The cluster's client logs each failed call, with a traceback, once per retry. In a request,
    # the request's own line says it once; outside one (start-up, the CLI) its lines stay.
    logging.getLogger("opensearch").addFilter(lambda record: request_id.get() == "-")


def _configure_if_unconfigured(app: Flask) -> None:
    """Log at INFO to stderr with the request id, unless the embedding program configured logging itself."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=FORMAT)
        app.logger.removeHandler(default_handler)  # the root's handler says it, with the request id
        logging.getLogger("opensearch").setLevel(logging.WARNING)  # at INFO, a line per call to the cluster
