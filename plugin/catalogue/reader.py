"""Read a shop's catalogue (JSONL or CSV) into validated products, row by row.

A malformed row never stops the catalogue and never takes other rows with it: it comes out
as a :class:`RejectedRow` with its own line number and a reason that names the field, for the
ingest quarantine, and the rows after it go on. Every row of the file therefore ends as a
product, a delete or a rejection. Column names follow what shops export (``id`` or
``product_id``, ``image_url`` or ``images``, ...); list fields in CSV are separated by ``|``.

CSV quoting is the one way a single bad row could swallow the next ones: a quote that is
never closed makes the ``csv`` module read the following lines into one field. A record that
runs over several lines is kept only if it reads as strict CSV (its quotes closed, nothing
after a closing quote) and has the header's number of columns, which a real multi-line field
always does; otherwise its first line is rejected as an unclosed quote and the lines after
it are read again on their own.

Every field is bounded (the ``MAX_*`` constants): a row that exceeds a bound is rejected
with the field and the limit, instead of becoming an outsized document.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, BinaryIO

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from plugin.errors import CatalogueError

#: Separator of list values (tags, images, category levels) inside one CSV cell.
LIST_SEPARATOR = "|"
CATEGORY_SEPARATOR = ">"

# Bounds of a row. Each is far above what a real shop exports and far below what would
# make a document expensive to store, index or show; a row over one is rejected, not cut.
#: Bytes of one JSONL line (a CSV field is bounded by the csv module's 128 kB): the fields'
#: bounds below add up to well under this, even with every character JSON-escaped.
MAX_ROW_BYTES = 1024 * 1024
#: The id is the document's ``_id``, which OpenSearch caps at 512 bytes (UTF-8).
MAX_ID_LENGTH = 256
MAX_ID_BYTES = 512
#: A title is shown in one line of a result card; 1,000 is several times a long one.
MAX_TITLE_LENGTH = 1000
#: Descriptions are embedded and indexed as text; 20,000 characters is a long product page.
MAX_DESCRIPTION_LENGTH = 20_000
MAX_BRAND_LENGTH = 200
#: Category levels: each ancestor path is stored (``category_path``), so a document grows
#: with the square of the depth; Google's product taxonomy is at most 7 levels deep.
MAX_CATEGORY_DEPTH = 10
#: One category level or one tag is a keyword (indexed whole, shown as a facet).
MAX_CATEGORY_LEVEL_LENGTH = 200
MAX_TAGS = 100
MAX_TAG_LENGTH = 100
#: Images per product: each is fetched, embedded and stored with its vector.
MAX_IMAGES = 20
#: URLs and image paths; 2,048 is the de-facto limit of browsers and CDNs.
MAX_URL_LENGTH = 2048

_Level = Annotated[str, StringConstraints(max_length=MAX_CATEGORY_LEVEL_LENGTH)]
_Tag = Annotated[str, StringConstraints(max_length=MAX_TAG_LENGTH)]
_Source = Annotated[str, StringConstraints(max_length=MAX_URL_LENGTH)]
#: An image's licence or credit line, e.g. ``CC-BY-4.0`` or ``Photo: Ana Lopez``; "" for none.
MAX_RIGHTS_LENGTH = 500
_Rights = Annotated[str, StringConstraints(max_length=MAX_RIGHTS_LENGTH)]
_SourceURL = Annotated[str, StringConstraints(max_length=MAX_URL_LENGTH, pattern=r"^(https?://\S+)?$")]

_ALIASES = {
    "product_id": "id",
    "sku": "id",
    "name": "title",
    "image": "images",
    "image_url": "images",
    "image_urls": "images",
    "image_path": "images",
    "url": "product_url",
    "link": "product_url",
    "category_path": "category",
    "categories": "category",
    "stock_quantity": "stock",
    "availability": "in_stock",
    # An image's rights, as shop and DAM exports name them.
    "licence": "image_licences",
    "license": "image_licences",
    "licences": "image_licences",
    "licenses": "image_licences",
    "image_licence": "image_licences",
    "image_license": "image_licences",
    "image_licenses": "image_licences",
    "usage_rights": "image_licences",
    "rights": "image_licences",
    "credit": "image_credits",
    "credits": "image_credits",
    "image_credit": "image_credits",
    "photo_credit": "image_credits",
    "photographer": "image_credits",
    "attribution": "image_credits",
    "copyright": "image_credits",
    "source_url": "image_sources",
    "image_source": "image_sources",
    "image_source_url": "image_sources",
    "image_source_urls": "image_sources",
    "photo_source": "image_sources",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Product(BaseModel):
    """One catalogue product, as validated from a row."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    title: str = Field(min_length=1, max_length=MAX_TITLE_LENGTH)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_LENGTH)
    brand: str | None = Field(default=None, max_length=MAX_BRAND_LENGTH)
    #: Category levels from the top, e.g. ``["Women", "Shoes", "Sneakers"]``.
    category: tuple[_Level, ...] = Field(default=(), max_length=MAX_CATEGORY_DEPTH)
    tags: tuple[_Tag, ...] = Field(default=(), max_length=MAX_TAGS)
    price: Decimal | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    in_stock: bool = True
    stock: int | None = Field(default=None, ge=0)
    popularity: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    rating: float | None = Field(default=None, ge=0, le=5, allow_inf_nan=False)
    product_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=MAX_URL_LENGTH)
    #: Image URLs or file paths, first one the main image.
    images: tuple[_Source, ...] = Field(min_length=1, max_length=MAX_IMAGES)
    #: Each image's licence, credit and the page it was published on: one value for every image,
    #: or one per image in the order of ``images`` ("" where an image has none).
    image_licences: tuple[_Rights, ...] = Field(default=(), max_length=MAX_IMAGES)
    image_credits: tuple[_Rights, ...] = Field(default=(), max_length=MAX_IMAGES)
    image_sources: tuple[_SourceURL, ...] = Field(default=(), max_length=MAX_IMAGES)
    created_at: dt.datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _rename_columns(cls, row: Any) -> Any:
        if not isinstance(row, dict):
            raise ValueError("a catalogue row must be an object with named fields")
        renamed: dict[str, Any] = {}
        for key, value in row.items():
            name = _ALIASES.get(str(key).strip().lower(), str(key).strip().lower())
            if value is None or value == "":
                continue  # an empty CSV cell means "not given"
            renamed.setdefault(name, value)
        return renamed

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        if len(value.encode()) > MAX_ID_BYTES:
            raise PydanticCustomError("string_too_long", "String should have at most {limit} bytes in UTF-8", {"limit": MAX_ID_BYTES})
        return value

    @field_validator("price")
    @classmethod
    def _round_price(cls, value: Decimal | None) -> Decimal | None:
        # Exports written from floats carry noise (40.800000000000004); no currency needs more than 4 places.
        if value is None:
            return None
        rounded = value.quantize(Decimal("0.0001"))
        if rounded >= Decimal("1e12"):
            raise ValueError("must be less than 1000000000000")
        return rounded.normalize()

    @field_validator("currency", mode="before")
    @classmethod
    def _upper_currency(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _split_category(cls, value: Any) -> Any:
        if isinstance(value, str):
            separator = CATEGORY_SEPARATOR if CATEGORY_SEPARATOR in value else LIST_SEPARATOR
            return tuple(level.strip() for level in value.split(separator) if level.strip())
        return value

    @field_validator("tags", "images", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(LIST_SEPARATOR) if item.strip())
        if isinstance(value, list):
            return tuple(str(item).strip() for item in value if str(item).strip())
        return value

    @field_validator("image_licences", "image_credits", "image_sources", mode="before")
    @classmethod
    def _split_per_image(cls, value: Any) -> Any:
        # Unlike tags, an empty item keeps its place: "CC0||CC-BY-4.0" says the second image has none.
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(LIST_SEPARATOR))
        if isinstance(value, list):
            return tuple("" if item is None else str(item).strip() for item in value)
        return value

    @model_validator(mode="after")
    def _rights_per_image(self) -> Product:
        for name in ("image_licences", "image_credits", "image_sources"):
            given = len(getattr(self, name))
            if given not in (0, 1, len(self.images)):
                raise PydanticCustomError(
                    "rights_count", "{field}: give one value for every image, or one per image ({images}), not {given}",
                    {"field": name, "images": len(self.images), "given": given},
                )
        return self

    def image_rights(self, position: int) -> dict[str, str]:
        """The licence, credit and source URL of the image at *position*, those given."""
        rights = {}
        for key, values in (("licence", self.image_licences), ("credit", self.image_credits), ("source_url", self.image_sources)):
            value = values[0] if len(values) == 1 else values[position] if values else ""
            if value:
                rights[key] = value
        return rights

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(tag.lower() for tag in value))

    @field_validator("in_stock", mode="before")
    @classmethod
    def _stock_words(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("in stock", "in_stock", "available"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("out of stock", "out_of_stock", "sold out"):
            return False
        return value

    @property
    def category_path(self) -> tuple[str, ...]:
        """Every ancestor of the category, so a filter on ``Women > Shoes`` finds ``Women > Shoes > Sneakers``."""
        return tuple(f" {CATEGORY_SEPARATOR} ".join(self.category[: depth + 1]) for depth in range(len(self.category)))


@dataclasses.dataclass(frozen=True)
class CatalogueRow:
    line: int
    product: Product


@dataclasses.dataclass(frozen=True)
class DeleteRow:
    """A row that asks for a product to be removed: ``{"id": "...", "deleted": true}``."""

    line: int
    product_id: str


@dataclasses.dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str
    #: The row as read (truncated), so the quarantine shows what was wrong.
    raw: str
    #: The quarantine's reason code: ``invalid_row`` (a field does not validate), ``row_too_large``
    #: (a field or the line is over its bound) or ``malformed_row`` (not JSON, or broken CSV quoting).
    code: str = "invalid_row"


#: How much of a rejected row the quarantine keeps, to show what was wrong.
RAW_KEPT = 500

#: Pydantic's error types for a value over its ``max_length``.
_TOO_LONG = frozenset({"string_too_long", "too_long", "bytes_too_long"})


class _Unreadable:
    """A row that could not even be read into fields (malformed JSON or CSV, an outsized line)."""

    def __init__(self, reason: str, code: str = "malformed_row") -> None:
        self.reason = reason
        self.code = code


def read_catalogue(path: Path) -> Iterator[CatalogueRow | DeleteRow | RejectedRow]:
    """Yield each row of the JSONL or CSV catalogue at *path*, validated or rejected, in file order.

    A product id seen twice is rejected the second time, naming the first line.
    """
    if not path.is_file():
        raise CatalogueError(f"catalogue {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path)
    elif suffix in (".csv", ".tsv"):
        rows = _csv_rows(path, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise CatalogueError(f"catalogue {path} must be .jsonl, .ndjson, .csv or .tsv")
    first_seen: dict[str, int] = {}
    for line, row, raw in rows:
        if isinstance(row, _Unreadable):
            yield RejectedRow(line=line, reason=row.reason, raw=raw, code=row.code)
            continue
        if _wants_delete(row):
            product_id = str(row.get("id") or row.get("product_id") or row.get("sku") or "").strip()
            if not product_id:
                yield RejectedRow(line=line, reason="id: a delete row needs the product's id", raw=raw)
            elif len(product_id) > MAX_ID_LENGTH or len(product_id.encode()) > MAX_ID_BYTES:
                yield RejectedRow(line=line, reason=f"id: over {MAX_ID_LENGTH} characters or {MAX_ID_BYTES} bytes", raw=raw, code="row_too_large")
            elif _CONTROL.search(product_id):
                yield RejectedRow(line=line, reason="id: must not contain control characters", raw=raw)
            elif product_id in first_seen:
                yield RejectedRow(line=line, reason=f"duplicate id {product_id!r}, first on line {first_seen[product_id]}", raw=raw)
            else:
                first_seen[product_id] = line
                yield DeleteRow(line=line, product_id=product_id)
            continue
        try:
            product = Product.model_validate(row)
        except ValidationError as exc:
            too_long = any(error["type"] in _TOO_LONG for error in exc.errors())
            yield RejectedRow(line=line, reason=_describe(exc), raw=raw, code="row_too_large" if too_long else "invalid_row")
            continue
        if product.id in first_seen:
            yield RejectedRow(line=line, reason=f"duplicate id {product.id!r}, first on line {first_seen[product.id]}", raw=raw)
            continue
        first_seen[product.id] = line
        yield CatalogueRow(line=line, product=product)


def _wants_delete(row: dict[str, Any]) -> bool:
    flag = row.get("deleted", row.get("delete"))
    return flag is True or (isinstance(flag, str) and flag.strip().lower() in ("true", "yes", "1"))


_Row = tuple[int, dict[str, Any] | _Unreadable, str]


def _jsonl_rows(path: Path) -> Iterator[_Row]:
    """One row per line: a line is read on its own, so a bad one cannot reach into the next."""
    with open(path, "rb") as handle:
        for number, raw_bytes in enumerate(_bounded_lines(handle), start=1):
            if isinstance(raw_bytes, int):
                yield number, _Unreadable(f"the line is {raw_bytes:,} bytes, over the limit of {MAX_ROW_BYTES:,}", "row_too_large"), ""
                continue
            try:
                text = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                yield number, _Unreadable("not valid UTF-8"), repr(raw_bytes[:200])
                continue
            if not text:
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, _Unreadable(f"invalid JSON: {exc.msg} at column {exc.colno}"), text[:RAW_KEPT]
                continue
            except (ValueError, RecursionError) as exc:  # absurdly long numbers, nesting
                yield number, _Unreadable(f"invalid JSON: {type(exc).__name__}"), text[:RAW_KEPT]
                continue
            if not isinstance(row, dict):
                yield number, _Unreadable("a catalogue row must be a JSON object"), text[:RAW_KEPT]
                continue
            yield number, row, text[:RAW_KEPT]


def _bounded_lines(handle: BinaryIO) -> Iterator[bytes | int]:
    """The file's lines, each at most :data:`MAX_ROW_BYTES`; a longer one is skipped to its end and
    yields its size instead, so one outsized line is never held in memory whole."""
    while True:
        line = handle.readline(MAX_ROW_BYTES + 1)
        if not line:
            return
        if len(line) <= MAX_ROW_BYTES or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while line and not line.endswith(b"\n"):
            line = handle.readline(MAX_ROW_BYTES)
            size += len(line)
        yield size - (1 if line.endswith(b"\n") else 0)


def _csv_rows(path: Path, delimiter: str) -> Iterator[_Row]:
    """The CSV's records after the header, each with the number of its first line.

    A record that cannot be read, or that runs over several lines without the header's number
    of columns, is taken for a quote left open: its first line is rejected and reading starts
    again on the line after it, so the rows the quote swallowed come out on their own.
    """
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = io.StringIO(text, newline="").readlines()  # the line breaks the csv module counts
    header_reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(header_reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise CatalogueError(f"catalogue {path}: its header cannot be read as CSV ({exc})") from exc
    position = header_reader.line_num  # lines before the next record
    while position < len(lines):
        start = position  # the generator must not see position move (a slice would copy the rest of the file each time)
        reader = csv.reader((lines[i] for i in range(start, len(lines))), delimiter=delimiter, strict=True)
        read = 0  # lines of this reader's input that complete records took
        try:
            for values in reader:
                first, last = position + read + 1, position + reader.line_num
                read = reader.line_num
                if not any(value.strip() for value in values):
                    continue
                raw = delimiter.join(values)[:RAW_KEPT]
                if last > first and len(values) != len(header):
                    detail = f"{len(values)} columns where the header has {len(header)}"
                    yield first, _unclosed_quote(last, detail), lines[first - 1][:RAW_KEPT]
                    position = first
                    break
                if any("\ufffd" in value for value in values):
                    yield first, _Unreadable("not valid UTF-8"), raw
                elif len(values) != len(header):
                    yield first, _Unreadable(f"has {len(values)} columns, the header has {len(header)}"), raw
                else:
                    yield first, dict(zip(header, values)), raw
            else:
                return
        except csv.Error as exc:  # a quote left open to the end of the file, text after a closing quote, a field over 128 kB
            first = position + read + 1
            last = position + reader.line_num
            rejected = _unclosed_quote(last, str(exc)) if last > first else _Unreadable(f"unreadable CSV row: {exc}")
            yield first, rejected, lines[first - 1][:RAW_KEPT]
            position = first


def _unclosed_quote(last: int, detail: str) -> _Unreadable:
    return _Unreadable(
        f"a quote opened on this line is not closed: the row would run on to line {last} ({detail}); "
        "the lines after it are read on their own"
    )


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "row"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts)
