"""Catalogues are read row by row: good rows become products, bad rows are rejected with line and reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from plugin.catalogue.reader import CatalogueRow, RejectedRow, read_catalogue
from plugin.errors import CatalogueError

GOOD = {
    "id": "sku-1",
    "title": "Red leather sneaker",
    "description": "Low-top sneaker in red leather.",
    "brand": "Acme",
    "category": "Women > Shoes > Sneakers",
    "tags": ["Leather", "red", "leather"],
    "price": 89.9,
    "currency": "eur",
    "in_stock": True,
    "stock": 12,
    "popularity": 0.7,
    "rating": 4.4,
    "product_url": "https://shop.example/p/sku-1",
    "images": ["https://cdn.shop.example/sku-1-front.jpg", "https://cdn.shop.example/sku-1-side.jpg"],
    "created_at": "2026-10-01T08:00:00Z",
}


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_a_jsonl_row_becomes_a_validated_product(tmp_path: Path) -> None:
    [row] = list(read_catalogue(write_jsonl(tmp_path / "c.jsonl", [GOOD])))

    assert isinstance(row, CatalogueRow) and row.line == 1
    product = row.product
    assert product.category == ("Women", "Shoes", "Sneakers")
    assert product.category_path == ("Women", "Women > Shoes", "Women > Shoes > Sneakers")
    assert product.tags == ("leather", "red")
    assert product.price == Decimal("89.9") and product.currency == "EUR"
    assert product.images[0].endswith("front.jpg") and len(product.images) == 2
    assert product.created_at is not None and product.created_at.year == 2026


def test_malformed_rows_are_rejected_with_line_and_reason_and_the_rest_goes_on(tmp_path: Path) -> None:
    rows: list[object] = [
        GOOD,
        "{not json",
        {**GOOD, "id": "sku-2", "price": -5},
        "",
        {**GOOD, "id": "sku-3", "images": []},
        ["a", "list"],
        {**GOOD, "id": "sku-4", "rating": 7, "currency": "euro"},
        {**GOOD, "id": "sku-1", "title": "same id again"},
        {k: v for k, v in GOOD.items() if k != "title"} | {"id": "sku-5"},
        {**GOOD, "id": "sku-6", "product_url": "javascript:alert(1)"},
        {**GOOD, "id": "sku-7"},
    ]
    results = list(read_catalogue(write_jsonl(tmp_path / "c.jsonl", rows)))

    accepted = [(r.line, r.product.id) for r in results if isinstance(r, CatalogueRow)]
    rejected = {r.line: r.reason for r in results if isinstance(r, RejectedRow)}
    assert accepted == [(1, "sku-1"), (11, "sku-7")]
    assert rejected[2].startswith("invalid JSON")
    assert rejected[3] == "price: Input should be greater than or equal to 0"
    assert rejected[5].startswith("images: ")
    assert rejected[6] == "a catalogue row must be a JSON object"
    assert "rating: Input should be less than or equal to 5" in rejected[7] and "currency:" in rejected[7]
    assert rejected[8] == "duplicate id 'sku-1', first on line 1"
    assert rejected[9] == "title: Field required"
    assert rejected[10].startswith("product_url: String should match pattern")
    assert len(results) == 10  # the blank line 4 is no row at all


def test_invalid_utf8_rejects_only_its_row(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"id": "\xff\xfe"}\n')

    results = list(read_catalogue(path))

    assert isinstance(results[0], CatalogueRow)
    assert isinstance(results[1], RejectedRow) and results[1].reason == "not valid UTF-8"


def test_a_csv_export_with_shop_column_names_and_list_cells(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "product_id,name,category_path,tags,price,currency,availability,image_url\n"
        'A1,"Blue ""denim"" jacket",Men > Jackets,denim|blue,59.00,USD,in stock,https://cdn.example/a1.jpg|/srv/img/a1b.jpg\n'
        "A2,Wool scarf,Accessories,,19.5,USD,out of stock,https://cdn.example/a2.jpg\n"
        "A3,Missing image,Accessories,,10,USD,true,\n"
        "A4,Too,many,columns,1,USD,true,x,y\n"
        '"A5","Multi-line\ntitle",Accessories,,3,USD,no,https://cdn.example/a5.jpg\n'
        "A6,Bad price,Accessories,,cheap,USD,yes,https://cdn.example/a6.jpg\n",
        encoding="utf-8",
    )

    results = list(read_catalogue(path))

    products = {r.product.id: r for r in results if isinstance(r, CatalogueRow)}
    rejected = {r.line: r.reason for r in results if isinstance(r, RejectedRow)}
    assert products["A1"].product.title == 'Blue "denim" jacket'
    assert products["A1"].product.images == ("https://cdn.example/a1.jpg", "/srv/img/a1b.jpg")
    assert products["A1"].product.tags == ("denim", "blue")
    assert products["A2"].product.in_stock is False
    assert products["A5"].product.title == "Multi-line\ntitle" and products["A5"].line == 6
    assert products["A5"].product.in_stock is False
    assert rejected[4] == "images: Field required"
    assert rejected[5] == "has 9 columns, the header has 8"
    assert rejected[8].startswith("price: ")  # line numbers count the two-line row above
    assert len(results) == 6


def test_an_unreadable_catalogue_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="does not exist"):
        list(read_catalogue(tmp_path / "nope.jsonl"))
    (tmp_path / "c.xlsx").write_bytes(b"PK")
    with pytest.raises(CatalogueError, match="must be .jsonl, .ndjson, .csv or .tsv"):
        list(read_catalogue(tmp_path / "c.xlsx"))


def test_an_id_may_appear_once_whether_as_a_product_or_a_delete(tmp_path: Path) -> None:
    rows: list[object] = [GOOD, {"id": "sku-1", "deleted": True}, {"id": "gone", "deleted": True}, {"id": "gone", "deleted": True}]

    results = list(read_catalogue(write_jsonl(tmp_path / "c.jsonl", rows)))

    assert [type(r).__name__ for r in results] == ["CatalogueRow", "RejectedRow", "DeleteRow", "RejectedRow"]
    assert results[1].reason == "duplicate id 'sku-1', first on line 1"  # type: ignore[union-attr]


def test_prices_are_rounded_before_they_are_bounded(tmp_path: Path) -> None:
    rows: list[object] = [{**GOOD, "price": 40.800000000000004}, {**GOOD, "id": "big", "price": "999999999999.99999"}]

    first, second = read_catalogue(write_jsonl(tmp_path / "c.jsonl", rows))

    assert isinstance(first, CatalogueRow) and first.product.price == Decimal("40.8")
    assert isinstance(second, RejectedRow) and second.reason.startswith("price: ")
