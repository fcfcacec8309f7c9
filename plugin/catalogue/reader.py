"""Read a shop's catalogue (JSONL or CSV) into validated products, row by row.

A malformed row never stops the catalogue: it comes out as a :class:`RejectedRow` with its
line number and a reason that names the field, for the ingest quarantine, and the rows after
it go on. Column names follow what shops export (``id`` or ``product_id``, ``image_url`` or
``images``, ...); list fields in CSV are separated by ``|``.
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
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from plugin.errors import CatalogueError

#: Separator of list values (tags, images, category levels) inside one CSV cell.
LIST_SEPARATOR = "|"
CATEGORY_SEPARATOR = ">"

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
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Product(BaseModel):
    """One catalogue product, as validated from a row."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=1000)
    description: str = Field(default="", max_length=20_000)
    brand: str | None = Field(default=None, max_length=200)
    #: Category levels from the top, e.g. ``["Women", "Shoes", "Sneakers"]``.
    category: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    price: Decimal | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    in_stock: bool = True
    stock: int | None = Field(default=None, ge=0)
    popularity: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    rating: float | None = Field(default=None, ge=0, le=5, allow_inf_nan=False)
    product_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2048)
    #: Image URLs or file paths, first one the main image.
    images: tuple[str, ...] = Field(min_length=1, max_length=20)
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
        if isinstance(row, str):
            yield RejectedRow(line=line, reason=row, raw=raw)
            continue
        if _wants_delete(row):
            product_id = str(row.get("id") or row.get("product_id") or row.get("sku") or "").strip()
            if not product_id:
                yield RejectedRow(line=line, reason="id: a delete row needs the product's id", raw=raw)
            elif product_id in first_seen:
                yield RejectedRow(line=line, reason=f"duplicate id {product_id!r}, first on line {first_seen[product_id]}", raw=raw)
            else:
                first_seen[product_id] = line
                yield DeleteRow(line=line, product_id=product_id)
            continue
        try:
            product = Product.model_validate(row)
        except ValidationError as exc:
            yield RejectedRow(line=line, reason=_describe(exc), raw=raw)
            continue
        if product.id in first_seen:
            yield RejectedRow(line=line, reason=f"duplicate id {product.id!r}, first on line {first_seen[product.id]}", raw=raw)
            continue
        first_seen[product.id] = line
        yield CatalogueRow(line=line, product=product)


def _wants_delete(row: dict[str, Any]) -> bool:
    flag = row.get("deleted", row.get("delete"))
    return flag is True or (isinstance(flag, str) and flag.strip().lower() in ("true", "yes", "1"))


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, str]]:
    with open(path, "rb") as handle:
        for number, raw_bytes in enumerate(handle, start=1):
            try:
                text = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                yield number, "not valid UTF-8", repr(raw_bytes[:200])
                continue
            if not text:
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, f"invalid JSON: {exc.msg} at column {exc.colno}", text[:500]
                continue
            except (ValueError, RecursionError) as exc:  # absurdly long numbers, nesting
                yield number, f"invalid JSON: {type(exc).__name__}", text[:500]
                continue
            if not isinstance(row, dict):
                yield number, "a catalogue row must be a JSON object", text[:500]
                continue
            yield number, row, text[:500]


def _csv_rows(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, Any] | str, str]]:
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's size limit
            start, line = line + 1, reader.line_num
            yield start, f"unreadable CSV row: {exc}", ""
            continue
        start, line = line + 1, reader.line_num
        raw = delimiter.join(values)[:500]
        if not any(value.strip() for value in values):
            continue
        if any("\ufffd" in value for value in values):
            yield start, "not valid UTF-8", raw
        elif len(values) != len(header):
            yield start, f"has {len(values)} columns, the header has {len(header)}", raw
        else:
            yield start, dict(zip(header, values)), raw


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "row"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts)
