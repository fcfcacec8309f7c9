"""The public API fuzzed from its own OpenAPI document (``/openapi.json``) with schemathesis.

Requests valid and invalid by the document (wrong types, out-of-range numbers, missing or
extra fields, odd strings, both body types, other methods) go to the real app, on the demo
shop, the real node and the real model. None may get a 5xx, and every answer must be one the
document lists, with the content type and the body it describes. The run is bounded by
:data:`EXAMPLES` per route: about 35 s for the five routes on 2 shared cores.

Not checked: that every request the document calls invalid is refused. The API reads bodies
as pydantic's lax mode does (``"size": "5"`` for 5, which a form needs; ``true`` is refused
for whole numbers, but a float field still reads it as 1.0).
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.openapi import openapi_document
from plugin.config import Config

#: Generated requests per route: enough to reach each field's edges, few enough to run in the suite.
EXAMPLES = 100


@pytest.fixture(scope="module")
def fuzzed_app(app_config: Config) -> Flask:
    return create_app(app_config, warm=False)


# The document ``/openapi.json`` serves, read here at collection: the cases are generated per route,
# and each is sent to the app in process (schemathesis' lazy ``from_fixture`` does not run on pytest 9).
schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(case: schemathesis.Case, fuzzed_app: Flask) -> None:
    case.call_and_validate(
        app=fuzzed_app, checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    )


def test_the_fuzzed_document_is_the_one_the_api_serves(fuzzed_app: Flask) -> None:
    assert fuzzed_app.test_client().get("/openapi.json").get_json() == openapi_document()
