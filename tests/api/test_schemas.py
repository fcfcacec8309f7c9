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
        assert read_search(request) == (SearchBody(text="chair", size=4), None)
    with app.test_request_context("/search", method="POST", data={"image": (io.BytesIO(b"photo"), "q.jpg"), "size": "3"}):
        body, upload = read_search(request)
        assert body.size == 3 and upload is not None and upload.read() == b"photo"
    form = {"image": (io.BytesIO(b"photo"), "q.jpg"), "image_url": "https://shop.example/x.jpg"}
    with app.test_request_context("/search", method="POST", data=form, content_type="multipart/form-data"):
        with pytest.raises(ApiError) as refused:
            read_search(request)
        assert refused.value.field == "image_url"  # the upload counts as the first photo source
    with app.test_request_context("/search", method="POST", data=b"{not json", content_type="application/json"):
        with pytest.raises(ApiError) as refused:
            read_search(request)
        assert (refused.value.status, refused.value.reason) == (400, "invalid_json")



def refused_request(data: bytes | str, content_type: str) -> ApiError:
    """The refusal of a ``POST /search`` whose raw body is *data*, sent as *content_type*."""
    with Flask(__name__).test_request_context("/search", method="POST", data=data, content_type=content_type):
        with pytest.raises(ApiError) as refused:
            read_search(request)
    return refused.value


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code", "field"),
    [
        ("[" * 100_000 + "]" * 100_000, "application/json", 400, "invalid_json", None),  # RecursionError in the parser
        ('{"filters": ' * 5_000 + "{}" + "}" * 5_000, "application/json", 400, "invalid_json", None),
        ('{"size": ' + "1" * 5_000 + "}", "application/json", 400, "invalid_json", None),  # int() refuses over 4,300 digits
        ('{"text": "\\ud800 half a pair"}', "application/json", 400, "invalid_json", None),  # unpaired: not writable as UTF-8
        (b'{"text": "\xff"}', "application/json", 400, "invalid_json", None),  # not UTF-8
        ("null", "application/json", 400, "invalid_body", None),  # once read as no body: an empty search
        ("text=shoe", "application/x-www-form-urlencoded", 415, "unsupported_media_type", None),
        # Multipart bodies that do not follow their boundary, or have none: no longer an empty search.
        ('--xx\r\nContent-Disposition: form-data; name="text"\r\n\r\nshoe', "multipart/form-data; boundary=yy", 400, "invalid_multipart", None),
        ('--yy\r\nContent-Disposition: form-data; name="text"\r\n\r\nshoe', "multipart/form-data; boundary=yy", 400, "invalid_multipart", None),
        ("hello", "multipart/form-data", 400, "invalid_multipart", None),
        ('--yy\r\nContent-Disposition: form-data; name="query"\r\n\r\n' + "[" * 5_000 + "\r\n--yy--\r\n", "multipart/form-data; boundary=yy", 400, "invalid_json", "query"),
        ('--yy\r\nContent-Disposition: form-data; name="query"\r\n\r\n["text"]\r\n--yy--\r\n', "multipart/form-data; boundary=yy", 400, "invalid_body", "query"),
    ],
    ids=["deep-array", "deep-object", "5000-digits", "lone-surrogate", "not-utf8", "null", "urlencoded", "wrong-boundary", "unclosed", "no-boundary", "deep-query", "query-list"],
)
def test_a_body_that_cannot_be_read_is_a_precise_4xx(data: str, content_type: str, status: int, code: str, field: str | None) -> None:
    refused = refused_request(data, content_type)

    assert (refused.status, refused.reason, refused.field) == (status, code, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"profile": "popular", "profile_params": {"popularity_weight": float("nan")}}, "profile_params.popularity_weight"),
        ({"profile": "popular", "profile_params": {"rating_weight": float("inf")}}, "profile_params.rating_weight"),
        ({"profile": "popular", "profile_params": {"rating_weight": -1}}, "profile_params.rating_weight"),  # a negative score: OpenSearch refuses it
        ({"product_id": "p" * 10_000}, "product_id"),
        ({"product_id": "é" * 300}, "product_id"),  # 300 characters, but 600 bytes: over OpenSearch's 512
        ({"product_id": ""}, "product_id"),
        ({"filters": {"exclude_ids": [""]}}, "filters.exclude_ids.0"),  # OpenSearch: "Ids can't be empty"
        ({"sort": ["price_asc"]}, "sort"),  # unhashable: once a TypeError
        ({"image_url": "http://[::1/photo.jpg"}, "image_url"),  # urlsplit raises on it
        ({"image_url": "http://shop.example:99999/x.jpg"}, "image_url"),
        ({"image_url": "https:///x.jpg"}, "image_url"),
        ({"ranking_version": False}, "ranking_version"),  # lax mode would read it as version 0
        ({"size": True}, "size"),
    ],
)
def test_values_python_accepts_but_the_search_cannot_use_are_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    refused = refusal(body)

    assert (refused.status, refused.reason, refused.field) == (400, "invalid_parameter", field)


def test_nan_and_infinity_literals_in_a_json_body_name_the_profile_parameter() -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        data = '{"text": "shoe", "profile": "popular", "profile_params": {"popularity_weight": %s}}' % literal
        refused = refused_request(data, "application/json")
        assert (refused.status, refused.field) == (400, "profile_params.popularity_weight")
