"""Errors as JSON (``api/errors.py``): one status table walked along the MRO, the reason as the code."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import errors
from api.app import create_app
from api.auth import AdminKeyRequired, AdminOff
from api.errors import ApiError, answer_for
from plugin.config import Config
from plugin.errors import (
    BrokerUnavailable,
    CatalogueError,
    CorruptImage,
    EngineBusy,
    EngineUnavailable,
    FetchFailed,
    ImageTooLarge,
    ImageTooSmall,
    IndexMissing,
    LookalikeError,
    ModelMismatch,
    NotAnImage,
    PathNotAllowed,
    RetryAlreadyRunning,
    SearchFailed,
    SourceNotFound,
    UnsafeURL,
    UnsupportedSource,
)
from tests.support.cli import free_port


class HugePanorama(ImageTooLarge):
    """A subclass the table does not list: it answers as its nearest listed base."""


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ImageTooLarge, 413), (HugePanorama, 413), (NotAnImage, 415), (CorruptImage, 422), (ImageTooSmall, 422),
        (UnsafeURL, 400), (UnsupportedSource, 400), (PathNotAllowed, 400),
        (FetchFailed, 422), (SourceNotFound, 422),  # other source faults: the request cannot be served as given
        (EngineUnavailable, 503), (EngineBusy, 503), (IndexMissing, 503), (ModelMismatch, 503), (BrokerUnavailable, 503), (RetryAlreadyRunning, 409),
        (SearchFailed, 502), (AdminKeyRequired, 401), (AdminOff, 403),
        (CatalogueError, 500), (LookalikeError, 500),  # not meant to reach the API: a server fault
    ],
)
def test_the_status_table_is_walked_along_the_mro(error: type[LookalikeError], status: int) -> None:
    assert answer_for(error("a sentence")).status == status


def test_an_api_error_about_a_product_error_keeps_its_status_and_reason() -> None:
    about = ApiError.about(NotAnImage("the bytes are a PDF"), "image_url")

    assert (about.status, about.reason, about.message, about.field) == (415, "not_an_image", "the bytes are a PDF", "image_url")
    assert ApiError.about(NotAnImage("x"), None, code="bad_photo").reason == "bad_photo"
    assert isinstance(about, LookalikeError)


@pytest.fixture
def raising() -> FlaskClient:
    """A bare app with the API's error handlers and one route that raises what it is asked to."""
    app = Flask(__name__)
    errors.init_app(app)
    raised = {
        "broker": BrokerUnavailable("the broker at redis://10.0.0.7:6379 cannot be reached"),
        "model": ModelMismatch("the index holds vectors of another model"),
        "engine": EngineUnavailable("OpenSearch at http://10.0.0.9:9200 cannot be reached"),
        "photo": ApiError.about(CorruptImage("the photo is cut off"), "image"),
        "catalogue": CatalogueError("not for the API"),
        "busy": EngineBusy("OpenSearch is overloaded (HTTP 429, circuit_breaking_exception) on node P3pU0uQ"),
        "failed": SearchFailed("OpenSearch answered HTTP 500: script_exception in products-v1-2026"),
    }

    @app.get("/raise/<name>")
    def raise_it(name: str) -> str:
        raise raised[name]

    return app.test_client()


def test_each_error_answers_with_its_status_and_its_reason_as_the_code(raising: FlaskClient) -> None:
    broker = raising.get("/raise/broker")
    assert broker.status_code == 503 and broker.get_json()["error"]["code"] == "broker_unavailable"
    assert broker.headers["Retry-After"] == "5"  # retryable: worth asking again shortly
    model = raising.get("/raise/model")
    assert model.status_code == 503 and "Retry-After" not in model.headers  # not retryable: waiting changes nothing
    assert model.get_json()["error"] == {"code": "model_mismatch", "message": "the index holds vectors of another model"}
    photo = raising.get("/raise/photo")
    assert photo.status_code == 422 and photo.get_json()["error"] == {"code": "corrupt_image", "message": "the photo is cut off", "field": "image"}


def test_the_clusters_address_is_not_shown_to_shoppers(raising: FlaskClient) -> None:
    engine = raising.get("/raise/engine")

    assert engine.status_code == 503 and engine.get_json()["error"]["code"] == "search_unavailable"
    assert "10.0.0.9" not in engine.get_data(as_text=True)


def test_the_engines_own_words_reach_the_log_not_the_shopper(raising: FlaskClient) -> None:
    busy, failed = raising.get("/raise/busy"), raising.get("/raise/failed")

    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5" and busy.get_json()["error"]["code"] == "engine_busy"
    assert failed.status_code == 502 and "Retry-After" not in failed.headers
    for response in (busy, failed):
        assert "P3pU0uQ" not in response.get_data(as_text=True) and "products-v1" not in response.get_data(as_text=True)


def test_http_errors_and_unmapped_errors_are_json_too(raising: FlaskClient) -> None:
    missing = raising.get("/no/such/route")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    unmapped = raising.get("/raise/catalogue")
    assert unmapped.status_code == 500 and unmapped.get_json()["error"]["code"] == "internal_server_error"


def test_an_unreachable_cluster_gives_503_with_retry_after(shop_config: Config) -> None:
    down = dataclasses.replace(shop_config, opensearch_url=f"http://127.0.0.1:{free_port()}", request_timeout=2)
    api = create_app(down, warm=False).test_client()

    for response in (api.post("/search", json={"text": "chair"}), api.get("/health")):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["error"]["code"] == "search_unavailable"
