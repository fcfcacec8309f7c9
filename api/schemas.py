"""The body of ``POST /search``: the core's search options plus where the photo comes from.

The options (filters, fusion, sort, page, profile ...) are :class:`plugin.search.request.SearchOptions`,
validated there; this module adds the photo sources and the crop box, reads the body from
JSON or a multipart form, and turns a validation error into one :class:`~api.errors.ApiError`
naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Request
from pydantic import Field, ValidationError, field_validator

from api.errors import ApiError
from plugin.search.request import SearchOptions, Weights

#: The smallest crop box side, as a fraction of the photo: below it, too few pixels remain to match.
MIN_CROP = 0.05


class SearchBody(SearchOptions):
    """``POST /search``: a photo source and/or words, with the search options of the core."""

    text: str | None = Field(default=None, max_length=500)
    image_base64: str | None = Field(default=None, max_length=30_000_000)
    image_url: str | None = Field(default=None, max_length=2048)
    product_id: str | None = Field(default=None, max_length=256)
    #: Left out, or a signal left out of it: the shop's weights for this kind of query.
    weights: Weights | None = None
    #: Rank with a saved version of the shop's ranking settings (0: the built-in defaults)
    #: instead of the live one: what the admin playground compares.
    ranking_version: int | None = Field(default=None, ge=0, le=1_000_000)
    #: Search only this region of the photo: ``[left, top, right, bottom]`` as fractions (0..1)
    #: of its width and height, so the box survives the client scaling the photo down.
    crop: list[float] | None = Field(default=None, min_length=4, max_length=4)

    @field_validator("crop", mode="before")
    @classmethod
    def _crop_from_form(cls, value: Any) -> Any:
        # A multipart form sends "0.1,0.2,0.6,0.7"; JSON sends a list.
        if isinstance(value, str):
            try:
                return [float(part) for part in value.split(",")]
            except ValueError:
                raise ValueError("must be four numbers: left, top, right, bottom") from None
        return value

    @field_validator("crop")
    @classmethod
    def _crop_box(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        left, top, right, bottom = value
        if not all(0.0 <= v <= 1.0 for v in value):
            raise ValueError("each value must be a fraction from 0 to 1")
        if right - left < MIN_CROP or bottom - top < MIN_CROP:
            raise ValueError(f"the box must be at least {MIN_CROP:g} of the photo wide and high, with left < right and top < bottom")
        return value


def read_search(request: Request) -> SearchBody:
    """The search body of *request*: JSON, or a multipart form with the photo as its ``image`` file."""
    form = request.form.to_dict() if request.mimetype == "multipart/form-data" else None
    json_body = request.get_json(silent=True) if form is None else None
    if form is None and request.data and json_body is None:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.", None)
    return parse_search(json_body, form, "image" in request.files)


def parse_search(json_body: Any, form: dict[str, str] | None, has_upload: bool) -> SearchBody:
    """Validate a JSON body, or multipart form fields (``query`` as JSON, or plain fields)."""
    if form is not None:
        data: dict[str, Any] = {}
        if "query" in form:
            try:
                data = json.loads(form["query"])
            except json.JSONDecodeError as exc:
                raise ApiError(400, "invalid_json", f"query is not valid JSON: {exc.msg}", "query") from exc
        data.update({k: v for k, v in form.items() if k != "query"})
    else:
        data = json_body if json_body is not None else {}
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.", None)
    try:
        body = SearchBody.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or None
        if error["type"] == "window":
            field = "page"
        elif error["type"] == "price_order":
            field = "filters.price_min"
        elif error["type"] == "profile_params":
            field = "profile_params"
        message = str(error["msg"]).removeprefix("Value error, ")
        if not message.startswith(f"{field} "):  # the core's messages may name the field already
            message = f"{field or 'body'}: {message}"
        raise ApiError(400, "invalid_parameter", message, field) from exc
    sources = [name for name, given in (("image", has_upload), ("image_base64", body.image_base64), ("image_url", body.image_url), ("product_id", body.product_id)) if given]
    if len(sources) > 1:
        raise ApiError(400, "invalid_parameter", f"give one photo source, not {' and '.join(sources)}", sources[1])
    if body.crop is not None and sources in ([], ["product_id"]):
        raise ApiError(400, "invalid_parameter", "crop: a box needs a photo (image, image_base64 or image_url)", "crop")
    return body
