"""The body of ``POST /search``, validated in one place; a bad value names its field."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from api.errors import ApiError
from plugin.query import SORTS, Query
from plugin.ranking_profiles import PROFILES


#: The smallest crop box side, as a fraction of the photo: below it, too few pixels remain to match.
MIN_CROP = 0.05


class FiltersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(default=None, max_length=500)
    brands: list[str] = Field(default_factory=list, max_length=50)
    tags_any: list[str] = Field(default_factory=list, max_length=50)
    tags_all: list[str] = Field(default_factory=list, max_length=50)
    tags_none: list[str] = Field(default_factory=list, max_length=50)
    price_min: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    price_max: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    in_stock: bool | None = None
    rating_min: float | None = Field(default=None, ge=0, le=5)

    @model_validator(mode="after")
    def _price_order(self) -> FiltersBody:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise PydanticCustomError("price_order", "price_min must not exceed price_max")
        return self


class WeightsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: float = Field(default=1.0, ge=0, le=100)
    text: float = Field(default=1.0, ge=0, le=100)
    text_image: float = Field(default=0.5, ge=0, le=100)
    keywords: float = Field(default=1.0, ge=0, le=100)


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=500)
    image_base64: str | None = Field(default=None, max_length=30_000_000)
    image_url: str | None = Field(default=None, max_length=2048)
    product_id: str | None = Field(default=None, max_length=256)
    weights: WeightsBody = WeightsBody()
    filters: FiltersBody = FiltersBody()
    fusion: Literal["rrf", "weighted"] = "rrf"
    sort: str = "relevance"
    page: int = Field(default=1, ge=1)
    size: int = Field(default=20, ge=1, le=100)
    min_score: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    facets: bool = False
    explain: bool = False
    profile: str | None = None
    profile_params: dict[str, float] | None = None
    collapse_duplicates: bool = False
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

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        if value is not None and value not in PROFILES:
            raise ValueError(f"must be one of {', '.join(PROFILES)}")
        return value

    @model_validator(mode="after")
    def _profile_params(self) -> SearchBody:
        if self.profile_params:
            allowed = PROFILES[self.profile].params if self.profile else {}
            unknown = sorted(set(self.profile_params) - set(allowed))
            if unknown:
                raise PydanticCustomError("profile_params", "unknown parameter {names}", {"names": ", ".join(unknown)})
        return self

    @field_validator("sort")
    @classmethod
    def _known_sort(cls, value: str) -> str:
        if value not in SORTS:
            raise ValueError(f"must be one of {', '.join(SORTS)}")
        return value

    @model_validator(mode="after")
    def _window(self) -> SearchBody:
        if self.page * self.size > Query.window:
            raise PydanticCustomError("window", f"page * size must not exceed {Query.window}")
        return self


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
        raise ApiError(400, "invalid_parameter", f"{field or 'body'}: {message}", field) from exc
    sources = [name for name, given in (("image", has_upload), ("image_base64", body.image_base64), ("image_url", body.image_url), ("product_id", body.product_id)) if given]
    if len(sources) > 1:
        raise ApiError(400, "invalid_parameter", f"give one photo source, not {' and '.join(sources)}", sources[1])
    if body.crop is not None and sources in ([], ["product_id"]):
        raise ApiError(400, "invalid_parameter", "crop: a box needs a photo (image, image_base64 or image_url)", "crop")
    return body
