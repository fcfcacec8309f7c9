"""The body of ``POST /search`` (``api/schemas.py``): JSON or a form, and each fault naming its field."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask, request

from api.errors import ApiError
from api.schemas import SearchBody, parse_search, read_search


def refusal(json_body: Any, form: dict[str, str] | None = None, has_upload: bool = False) -> ApiError:
    with pytest.raises(ApiError) as refused:
        parse_search(json_body, form, has_upload)
    return refused.value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"page": 11, "size": 10}, "page"),  # past the window: the page is what went too far
        ({"filters": {"price_min": 10, "price_max": 5}}, "filters.price_min"),
        ({"profile": "in_stock_first", "profile_params": {"margin": 2}}, "profile_params"),
        ({"size": 0}, "size"),
        ({"filters": {"brands": "not-a-list", "colour": "red"}}, "filters.brands"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_validation_error_names_the_field_at_fault(body: dict[str, Any], field: str) -> None:
    refused = refusal(body)

    assert (refused.status, refused.reason, refused.field) == (400, "invalid_parameter", field)
    assert refused.message.startswith(f"{field} ") or refused.message.startswith(f"{field}: ")


def test_a_form_may_carry_the_body_as_json_beside_plain_fields() -> None:
    body = parse_search(None, {"query": '{"text": "tent", "filters": {"in_stock": true}}', "size": "3", "crop": "0.1,0.2,0.6,0.7"}, True)

    assert (body.text, body.size, body.filters.in_stock) == ("tent", 3, True)
    assert body.crop == [0.1, 0.2, 0.6, 0.7]


def test_a_form_with_broken_json_and_a_body_that_is_not_an_object_are_refused() -> None:
    broken = refusal(None, {"query": "{not json"})
    assert (broken.status, broken.reason, broken.field) == (400, "invalid_json", "query")
    listed = refusal(["text", "tent"])
    assert (listed.status, listed.reason, listed.field) == (400, "invalid_body", None)


def test_one_photo_source_only_and_the_second_one_is_named() -> None:
    assert refusal({"image_base64": "aGk=", "image_url": "https://shop.example/x.jpg"}).field == "image_url"
    assert refusal({"product_id": "laptop"}, has_upload=True).field == "product_id"
    assert parse_search({"product_id": "laptop"}, None, False).product_id == "laptop"


def test_no_body_is_an_empty_search() -> None:
    assert parse_search(None, None, False) == SearchBody()


def test_a_request_is_read_as_json_or_as_a_form_with_its_photo() -> None:
    app = Flask(__name__)
    with app.test_request_context("/search", method="POST", json={"text": "chair", "size": 4}):
        assert read_search(request) == SearchBody(text="chair", size=4)
    form = {"image": (io.BytesIO(b"photo"), "q.jpg"), "image_url": "https://shop.example/x.jpg"}
    with app.test_request_context("/search", method="POST", data=form, content_type="multipart/form-data"):
        with pytest.raises(ApiError) as refused:
            read_search(request)
        assert refused.value.field == "image_url"  # the upload counts as the first photo source
    with app.test_request_context("/search", method="POST", data=b"{not json", content_type="application/json"):
        with pytest.raises(ApiError) as refused:
            read_search(request)
        assert (refused.value.status, refused.value.reason) == (400, "invalid_json")

