"""Request ids and the request log (``api/logs.py``): an id on every response and log line, one line per failure."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import errors, logs
from api.logs import MAX_REQUEST_ID, accepted_id


@pytest.fixture
def app() -> Flask:
    """A bare app with the API's error handlers and request log, and routes that answer, log, fail and break."""
    app = Flask(__name__)
    errors.init_app(app)
    logs.init_app(app)

    @app.get("/fine")
    def fine() -> str:
        logging.getLogger("tests.somewhere").warning("working on it")
        return "ok"

    @app.get("/refused")
    def refused() -> str:
        raise errors.ApiError(400, "invalid_parameter", "size must be a whole number", "size")

    @app.get("/broken")
    def broken() -> str:
        raise ZeroDivisionError("a bug")

    return app


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return app.test_client()


def test_every_response_carries_a_request_id_and_every_log_line_of_the_request_too(api: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    first, second = api.get("/fine"), api.get("/no/such/route")

    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    assert len(first.headers["X-Request-Id"]) == 32
    assert second.status_code == 404 and "X-Request-Id" in second.headers
    line = next(record for record in caplog.records if record.name == "tests.somewhere")
    assert line.request_id == first.headers["X-Request-Id"]  # type: ignore[attr-defined]
    assert logging.getLogger("x").makeRecord("x", logging.INFO, "", 0, "outside", None, None).request_id == "-"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f", True),  # a UUID, as proxies and tracers send
        ("req_01HZX:edge.7", True),
        ("a" * MAX_REQUEST_ID, True),
        ("a" * (MAX_REQUEST_ID + 1), False),  # a log line is no place for a payload
        ("x\r\nSet-Cookie: a=b", False),
        ("<script>", False),
        ("", False),
        ("ünïcode", False),
    ],
)
def test_a_sane_incoming_request_id_is_kept_and_any_other_is_replaced(api: FlaskClient, given: str, kept: bool) -> None:
    assert (accepted_id(given) == given) is kept
    if "\n" not in given and given.isascii():  # what an HTTP client lets through
        answered = api.get("/fine", headers={"X-Request-Id": given}).headers["X-Request-Id"]
        assert (answered == given) is kept and len(answered) <= MAX_REQUEST_ID


def test_a_failed_request_is_one_line_with_its_code_and_id_and_only_a_bug_has_a_traceback(
    api: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    refused = api.get("/refused", headers={"X-Request-Id": "client-7"})
    broken = api.get("/broken")

    lines = [record for record in caplog.records if record.name == "api.logs"]
    assert [line.getMessage().rsplit(" ", 1)[0] for line in lines] == ["GET /refused 400 invalid_parameter", "GET /broken 500 internal_server_error"]
    assert [line.request_id for line in lines] == ["client-7", broken.headers["X-Request-Id"]]  # type: ignore[attr-defined]
    assert [line.levelno for line in lines] == [logging.INFO, logging.WARNING]
    assert refused.status_code == 400 and broken.status_code == 500
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 1 and tracebacks[0].exc_info[0] is ZeroDivisionError  # type: ignore[index]
    assert tracebacks[0].request_id == broken.headers["X-Request-Id"]  # type: ignore[attr-defined]


def test_a_path_cannot_forge_a_log_line_or_reach_the_operators_terminal(api: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    api.get("/nowhere%0A2026-01-01 INFO api.logs [x] GET /admin 200%1b]0;owned%07")

    (line,) = [record.getMessage() for record in caplog.records if record.name == "api.logs"]
    assert "\n" not in line and "\x1b" not in line and "\x07" not in line
    assert line.startswith("GET /nowhere\\x0a2026-01-01 INFO api.logs [x] GET /admin 200\\x1b]0;owned\\x07 404 not_found ")
