"""The body of ``POST /search``: the core's search options plus where the photo comes from.

The options (filters, fusion, sort, page, profile ...) are :class:`plugin.search.request.SearchOptions`,
validated there; this module adds the photo sources and the crop box, reads the body from
JSON or a multipart form, and turns a validation error into one :class:`~api.errors.ApiError`
naming the field.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from flask import Request
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from werkzeug.datastructures import FileStorage

from api.errors import ApiError
from plugin.catalogue.reader import (
    MAX_ID_BYTES,  # OpenSearch refuses longer document ids
)
from plugin.search.regions import DetectMode
from plugin.search.request import PSEUDONYM, SearchOptions, Weights

M = TypeVar("M", bound=BaseModel)

#: The smallest crop box side, as a fraction of the photo: below it, too few pixels remain to match.
MIN_CROP = 0.05
#: A JSON escape of half a UTF-16 surrogate pair: most often the whole of a pair, rarely half of one.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
#: The body types ``POST /search`` reads; an empty type is read as JSON.
JSON_TYPES = ("application/json", "")


def product_id_problem(value: str) -> str | None:
    """Why *value* cannot be a product id, or None when it can."""
    if not value:
        return "must not be empty"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return f"must be at most {MAX_ID_BYTES} bytes long"
    return None


class SearchBody(SearchOptions):
    """``POST /search``: a photo source and/or words, with the search options of the core."""

    text: str | None = Field(default=None, max_length=500)
    image_base64: str | None = Field(default=None, max_length=30_000_000)
    image_url: str | None = Field(default=None, max_length=2048)
    product_id: str | None = Field(default=None, max_length=MAX_ID_BYTES)
    #: Left out, or a signal left out of it: the shop's weights for this kind of query.
    weights: Weights | None = None
    #: Rank with a saved version of the shop's ranking settings (0: the built-in defaults)
    #: instead of the live one: what the admin playground compares.
    ranking_version: int | None = Field(default=None, ge=0, le=1_000_000)
    #: Search only this region of the photo: ``[left, top, right, bottom]`` as fractions (0..1)
    #: of its width and height, so the box survives the client scaling the photo down.
    crop: list[float] | None = Field(default=None, min_length=4, max_length=4)
    #: Look for the objects in the photo: ``auto`` searches whichever of the whole photo and its
    #: most salient objects the catalogue matches best, ``all`` searches each object on its own
    #: (results grouped per object), ``off`` the whole photo. Left out: the shop's setting
    #: (``auto`` unless changed). A ``crop`` box is the shopper's own choice and is searched as it is.
    detect: DetectMode | None = None

    @field_validator("page", "size", "ranking_version", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        # Lax mode reads the form's "5" as 5, and would read JSON true as 1 too: a client's mistake to name.
        if isinstance(value, bool):
            raise ValueError("must be a whole number, not true or false")
        return value

    @field_validator("product_id")
    @classmethod
    def _product_id(cls, value: str | None) -> str | None:
        problem = product_id_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("image_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        # Checked here, not only when fetching: urlsplit raises on a broken IPv6 host ("http://[::1").
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises on a port out of range or not a number)
        except ValueError:
            raise ValueError("must be a valid http(s) URL") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return value

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


def read_search(request: Request) -> tuple[SearchBody, FileStorage | None]:
    """The search body of *request* and its uploaded photo: JSON, or a multipart form with the photo as its ``image`` file.

    A body that cannot be read is a 400 (415 for a type that is neither), never an empty search.
    """
    if request.mimetype == "multipart/form-data":
        form, files = read_form(request)
        upload = files.get("image")
        return parse_search(None, form, upload is not None), upload
    data = request.get_data()
    if request.mimetype not in JSON_TYPES and data:
        raise ApiError(415, "unsupported_media_type", "The body must be JSON or a multipart form.", None)
    if not data:  # no body at all: browse the catalogue
        return parse_search(None, None, False), None
    value = read_json(data, None)
    if not isinstance(value, dict):  # "null" too: a body that says nothing is not the absence of one
        raise ApiError(400, "invalid_body", "The body must be a JSON object.", None)
    return parse_search(value, None, False), None


def read_form(request: Request) -> tuple[dict[str, str], dict[str, FileStorage]]:
    """A multipart form's fields and files; a 400 when it has no boundary or does not follow it."""
    if not request.mimetype_params.get("boundary"):
        raise ApiError(400, "invalid_multipart", "The multipart body has no boundary in its Content-Type.", None)
    parser = request.make_form_data_parser()  # the app's limits on size and parts
    parser.silent = False  # werkzeug's default reads a broken form as an empty one
    try:
        _, form, files = parser.parse(request.stream, request.mimetype, request.content_length, request.mimetype_params)
    except ValueError as exc:
        raise ApiError(400, "invalid_multipart", "The multipart body does not follow its boundary.", None) from exc
    return form.to_dict(), files.to_dict()


def read_json(data: bytes | str, field: str | None) -> Any:
    """*data* parsed as JSON; a 400 naming *field* when it is not JSON or nests too deeply for the parser."""
    try:
        value = json.loads(data)
        if _SURROGATE.search(data if isinstance(data, str) else data.decode("ascii", "replace")):
            # Python reads an unpaired "\ud800" into a str that cannot be written back as UTF-8.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError:
        raise ApiError(400, "invalid_json", f"{field or 'the body'} holds an unpaired UTF-16 surrogate escape", field) from None
    except RecursionError:
        raise ApiError(400, "invalid_json", f"{field or 'the body'} nests too deeply", field) from None
    except ValueError as exc:  # JSONDecodeError, bytes not UTF-8, a number of more than 4,300 digits
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split(":")[0]
        raise ApiError(400, "invalid_json", f"{field or 'the body'} is not valid JSON: {detail}", field) from None


def parse_search(json_body: Any, form: dict[str, str] | None, has_upload: bool) -> SearchBody:
    """Validate a JSON body, or multipart form fields (``query`` as JSON, or plain fields)."""
    if form is not None:
        data: dict[str, Any] = {}
        if "query" in form:
            data = read_json(form["query"], "query")
            if not isinstance(data, dict):
                raise ApiError(400, "invalid_body", "query must be a JSON object.", "query")
        data.update({k: v for k, v in form.items() if k != "query"})
    else:
        data = json_body if json_body is not None else {}
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.", None)
    try:
        body = SearchBody.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _field(error)
        if error["type"] == "window":
            field = "page"
        elif error["type"] == "price_order":
            field = "filters.price_min"
        elif error["type"] in ("profile_params", "shopper"):
            field = str(error["type"])
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


def _product_id(value: str) -> str:
    problem = product_id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: A product id in a body: one OpenSearch can hold (at most 512 bytes, not characters).
ProductId = Annotated[str, AfterValidator(_product_id)]


class TakedownBody(BaseModel):
    """``POST /admin/api/takedowns``: which photo of which product infringes, why, and who says so."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    #: One of the product's image URLs or image fingerprints.
    image: str = Field(min_length=1, max_length=4096)
    reason: str = Field(min_length=1, max_length=1000)
    #: The operator's name, for the audit log (the admin key does not say who holds it).
    operator: str = Field(min_length=1, max_length=100)


class UndoBody(BaseModel):
    """``POST /admin/api/takedowns/<id>/undo``: why the product returns, and who says so."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    operator: str = Field(min_length=1, max_length=100)


class ReviewBody(BaseModel):
    """``POST /admin/api/products/<id>/predictions``: a merchandiser's decision on one predicted value."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["category", "tag"]
    value: str = Field(min_length=1, max_length=500)
    #: ``accept`` keeps the value whatever the vote; ``reject`` never predicts it again; ``undo`` withdraws either.
    decision: Literal["accept", "reject", "undo"]
    operator: str = Field(min_length=1, max_length=100)

    @field_validator("value")
    @classmethod
    def _as_stored(cls, value: str, info: ValidationInfo) -> str:
        # Ingest stores tags in lower case (the tag filters look them up so); a value must match what is stored.
        stored = value.strip().lower() if info.data.get("kind") == "tag" else value.strip()
        if not stored:
            raise ValueError("value must not be blank")
        return stored


class CopiesBody(BaseModel):
    """``POST /admin/api/copies`` as JSON: the photo whose copies are looked for (or upload it as ``image``)."""

    model_config = ConfigDict(extra="forbid")

    image_base64: str | None = Field(default=None, min_length=1, max_length=14_000_000)
    image_url: str | None = Field(default=None, min_length=1, max_length=4096)


def read_model(request: Request, model: type[M]) -> M:
    """*request*'s JSON body validated as *model*; a 400 naming the first field at fault."""
    data = request.get_data()
    if request.mimetype not in JSON_TYPES:
        raise ApiError(415, "unsupported_media_type", "The body must be JSON.", None)
    value = read_json(data, None) if data else {}
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.", None)
    return validate_model(value, model)


def validate_model(value: dict[str, Any], model: type[M]) -> M:
    """*value* (a JSON body, or a form's fields) validated as *model*; a 400 naming the first field at fault."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _field(error)
        raise ApiError(400, "invalid_parameter", f"{field or 'body'}: {error['msg']}", field) from exc


def _field(error: Any) -> str | None:
    """The dotted path of the field a validation error is about (``events.3.at``); None for the body."""
    return ".".join(str(part) for part in error["loc"]) or None


_PSEUDONYM = PSEUDONYM
#: Events one request may carry: a page's batch, small enough to validate in one go.
MAX_EVENTS = 500


class EventBody(BaseModel):
    """One shopper event of ``POST /events``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["view", "click", "add_to_cart", "purchase"]
    user: str = Field(pattern=_PSEUDONYM)
    session: str | None = Field(default=None, pattern=_PSEUDONYM)
    product_id: ProductId
    #: When it happened (ISO 8601 with a time zone); the time it arrives when left out.
    at: AwareDatetime | None = None


class EventsBody(BaseModel):
    """``POST /events``: a batch of shopper events."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventBody] = Field(min_length=1, max_length=MAX_EVENTS)


class SavedSearchBody(BaseModel):
    """``POST /saved-searches``: whose search (a pseudonymous id), and its words, its photo or both
    (or send a form with the photo as ``image``)."""

    model_config = ConfigDict(extra="forbid")

    shopper: str = Field(pattern=_PSEUDONYM)
    text: str | None = Field(default=None, min_length=1, max_length=500)
    image_base64: str | None = Field(default=None, min_length=1, max_length=14_000_000)
    image_url: str | None = Field(default=None, min_length=1, max_length=4096)
    #: The cosine a new product must reach to match; the photo's or the words' default when left out.
    min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)


def read_shopper(value: str | None, field: str = "shopper") -> str:
    """A pseudonymous shopper id from a query string or form; a 400 naming *field* when missing or malformed."""
    if not value or not re.fullmatch(_PSEUDONYM, value):
        raise ApiError(400, "invalid_parameter", f"{field}: give the shopper's pseudonymous id (letters, digits and ._:- up to 128)", field)
    return value
