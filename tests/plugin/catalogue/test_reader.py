"""Catalogues are read row by row: good rows become products, bad rows are rejected with line and reason."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from plugin.catalogue import reader
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


def test_a_delete_row_is_held_to_the_ids_a_product_row_may_have(tmp_path: Path) -> None:
    rows: list[object] = [{"id": "𝔰" * 200, "deleted": True}, {"id": "gone\x1b[31m", "deleted": True}, {"id": "gone", "deleted": True}]

    results = list(read_catalogue(write_jsonl(tmp_path / "c.jsonl", rows)))

    assert [type(r).__name__ for r in results] == ["RejectedRow", "RejectedRow", "DeleteRow"]
    assert results[0].code == "row_too_large"  # type: ignore[union-attr]  # 200 characters, but 800 bytes: over OpenSearch's 512
    assert "control characters" in results[1].reason  # type: ignore[union-attr]


def test_prices_are_rounded_before_they_are_bounded(tmp_path: Path) -> None:
    rows: list[object] = [{**GOOD, "price": 40.800000000000004}, {**GOOD, "id": "big", "price": "999999999999.99999"}]

    first, second = read_catalogue(write_jsonl(tmp_path / "c.jsonl", rows))

    assert isinstance(first, CatalogueRow) and first.product.price == Decimal("40.8")
    assert isinstance(second, RejectedRow) and second.reason.startswith("price: ")


def outcomes(path: Path) -> dict[int, str]:
    """Each row's line and what became of it: the product id, or ``rejected: <reason>``."""
    results: dict[int, str] = {}
    for result in read_catalogue(path):
        assert result.line not in results, f"line {result.line} came out twice"
        results[result.line] = result.product.id if isinstance(result, CatalogueRow) else f"rejected: {result.reason}"  # type: ignore[union-attr]
    return results


def test_an_unclosed_quote_loses_only_its_own_row_and_every_row_ends_with_its_line(tmp_path: Path) -> None:
    # Line 3's title opens a quote that never closes: read as CSV, it swallowed lines 4 to 10.
    lines = ["id,title,price,images"] + [f"p{n},Good {n},{n},https://cdn.example/p{n}.jpg" for n in range(2, 11)]
    lines[2] = 'p3,"Broken title,3,https://cdn.example/p3.jpg'
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    results = outcomes(path)

    assert sorted(results) == list(range(2, 11))  # every row of the file, each with its own line
    assert results[3].startswith("rejected: a quote opened on this line is not closed: the row would run on to line 10")
    assert {line: pid for line, pid in results.items() if line != 3} == {n: f"p{n}" for n in range(2, 11) if n != 3}


def test_an_unclosed_quote_in_the_last_column_or_closed_by_a_later_quote_is_found_too(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "id,title,images\n"
        'a1,Last column,"https://cdn.example/a1.jpg\n'
        "a2,Good,https://cdn.example/a2.jpg\n"
        'b1,"Closed by the next quote,https://cdn.example/b1.jpg\n'
        "b2,Good,https://cdn.example/b2.jpg\n"
        'b3,"Quoted, properly",https://cdn.example/b3.jpg\n'
        "b4,Good,https://cdn.example/b4.jpg\n",
        encoding="utf-8",
    )

    results = outcomes(path)

    # a1's quote swallows everything up to b1's opening quote, then finds text after its "closing" quote.
    assert results[2].startswith("rejected: a quote opened on this line is not closed: the row would run on to line 4")
    assert results[4].startswith("rejected: a quote opened on this line is not closed: the row would run on to line 6")
    assert {line: pid for line, pid in results.items() if not pid.startswith("rejected")} == {3: "a2", 5: "b2", 6: "b3", 7: "b4"}


def test_a_quoted_field_over_several_lines_is_still_one_row(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "id,title,description,images\n"
        'm1,Scarf,"Soft wool.\nHand wash, 30 degrees.\n\n""Made to last""",https://cdn.example/m1.jpg\n'
        "m2,Hat,Plain,https://cdn.example/m2.jpg\n",
        encoding="utf-8",
    )

    results = list(read_catalogue(path))

    assert [(r.line, r.product.id) for r in results] == [(2, "m1"), (6, "m2")]  # type: ignore[union-attr]
    assert results[0].product.description == 'Soft wool.\nHand wash, 30 degrees.\n\n"Made to last"'  # type: ignore[union-attr]


def test_text_after_a_closing_quote_rejects_its_line_only(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text('id,title,images\nq1,"Title"x,https://cdn.example/q1.jpg\nq2,Good,https://cdn.example/q2.jpg\n', encoding="utf-8")

    assert outcomes(path) == {2: "rejected: unreadable CSV row: ',' expected after '\"'", 3: "q2"}


def test_every_jsonl_line_ends_with_its_own_outcome(tmp_path: Path) -> None:
    rows: list[object] = [
        {**GOOD, "id": "j1"},
        '{"id": "j2", "title": "unterminated string, "images": ["x.jpg"]}',
        '{"id": "j3", "title": "a quote \\" then a line break',
        {**GOOD, "id": "j4"},
        "[1, 2",
        {**GOOD, "id": "j6"},
    ]

    results = outcomes(write_jsonl(tmp_path / "c.jsonl", rows))

    assert sorted(results) == [1, 2, 3, 4, 5, 6]
    assert (results[1], results[4], results[6]) == ("j1", "j4", "j6")
    assert all(results[n].startswith("rejected: invalid JSON") for n in (2, 3, 5))


def test_a_2000_level_category_is_rejected_for_its_depth_not_stored(tmp_path: Path) -> None:
    deep = " > ".join(f"Level {n}" for n in range(2000))
    rows: list[object] = [{**GOOD, "id": "deep", "category": deep}, {**GOOD, "id": "ok"}]

    deep_row, ok_row = read_catalogue(write_jsonl(tmp_path / "c.jsonl", rows))

    assert isinstance(deep_row, RejectedRow) and deep_row.code == "row_too_large"
    assert deep_row.reason == f"category: Tuple should have at most {reader.MAX_CATEGORY_DEPTH} items after validation, not 2000"
    assert len(deep_row.raw) <= reader.RAW_KEPT
    assert isinstance(ok_row, CatalogueRow)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("id", "x" * (reader.MAX_ID_LENGTH + 1), f"id: String should have at most {reader.MAX_ID_LENGTH} characters"),
        ("id", "€" * reader.MAX_ID_LENGTH, f"id: String should have at most {reader.MAX_ID_BYTES} bytes in UTF-8"),
        ("title", "t" * (reader.MAX_TITLE_LENGTH + 1), f"title: String should have at most {reader.MAX_TITLE_LENGTH} characters"),
        ("description", "d" * (reader.MAX_DESCRIPTION_LENGTH + 1), "description: String should have at most"),
        ("brand", "b" * (reader.MAX_BRAND_LENGTH + 1), "brand: String should have at most"),
        ("category", "Women > " + "c" * (reader.MAX_CATEGORY_LEVEL_LENGTH + 1), f"category.1: String should have at most {reader.MAX_CATEGORY_LEVEL_LENGTH}"),
        ("tags", [f"t{n}" for n in range(reader.MAX_TAGS + 1)], f"tags: Tuple should have at most {reader.MAX_TAGS} items"),
        ("tags", ["x" * (reader.MAX_TAG_LENGTH + 1)], f"tags.0: String should have at most {reader.MAX_TAG_LENGTH}"),
        ("images", [f"https://cdn.example/{n}.jpg" for n in range(reader.MAX_IMAGES + 1)], f"images: Tuple should have at most {reader.MAX_IMAGES}"),
        ("images", ["https://cdn.example/" + "i" * reader.MAX_URL_LENGTH], f"images.0: String should have at most {reader.MAX_URL_LENGTH}"),
        ("product_url", "https://shop.example/" + "u" * reader.MAX_URL_LENGTH, f"product_url: String should have at most {reader.MAX_URL_LENGTH}"),
    ],
)
def test_each_field_over_its_bound_is_rejected_with_the_field_and_the_limit(tmp_path: Path, field: str, value: object, reason: str) -> None:
    [result] = read_catalogue(write_jsonl(tmp_path / "c.jsonl", [{**GOOD, field: value}]))

    assert isinstance(result, RejectedRow) and result.code == "row_too_large"
    assert result.reason.startswith(reason)


def test_values_at_their_bounds_are_accepted(tmp_path: Path) -> None:
    at_bounds = {
        **GOOD,
        "id": "x" * reader.MAX_ID_LENGTH,
        "title": "t" * reader.MAX_TITLE_LENGTH,
        "category": [f"L{n}" for n in range(reader.MAX_CATEGORY_DEPTH)],
        "tags": [f"t{n}" for n in range(reader.MAX_TAGS)],
        "images": [f"https://cdn.example/{n}.jpg" for n in range(reader.MAX_IMAGES)],
    }

    [result] = read_catalogue(write_jsonl(tmp_path / "c.jsonl", [at_bounds]))

    assert isinstance(result, CatalogueRow) and len(result.product.category_path) == reader.MAX_CATEGORY_DEPTH


def test_an_outsized_jsonl_line_is_rejected_by_size_without_the_rows_around_it(tmp_path: Path) -> None:
    huge = json.dumps({**GOOD, "id": "huge", "padding": "p" * reader.MAX_ROW_BYTES})
    path = write_jsonl(tmp_path / "c.jsonl", [{**GOOD, "id": "before"}, huge, {**GOOD, "id": "after"}])

    results = outcomes(path)

    assert results == {
        1: "before",
        2: f"rejected: the line is {len(huge):,} bytes, over the limit of {reader.MAX_ROW_BYTES:,}",
        3: "after",
    }


def test_image_rights_come_under_common_export_names_one_for_all_or_one_per_image() -> None:
    one_for_all = reader.Product.model_validate({"id": "a", "title": "T", "images": "x.jpg|y.jpg", "License": "CC0-1.0", "photographer": "Ana"})
    per_image = reader.Product.model_validate(
        {"id": "a", "title": "T", "images": ["x.jpg", "y.jpg"], "image_licenses": ["CC-BY-4.0", ""], "source_url": "|https://p.example/y"}
    )

    assert [one_for_all.image_rights(i) for i in (0, 1)] == [{"licence": "CC0-1.0", "credit": "Ana"}] * 2
    assert per_image.image_rights(0) == {"licence": "CC-BY-4.0"}
    assert per_image.image_rights(1) == {"source_url": "https://p.example/y"}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("license", "a|b|c", r"one value for every image, or one per image \(2\), not 3"),
        ("source_url", "ftp://elsewhere/x.jpg", "should match pattern"),
        ("credit", "x" * 501, "at most 500 characters"),
    ],
)
def test_image_rights_that_do_not_fit_the_images_are_refused_naming_the_field(field: str, value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        reader.Product.model_validate({"id": "a", "title": "T", "images": "x.jpg|y.jpg", field: value})
