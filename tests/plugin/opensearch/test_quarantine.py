"""The quarantine on the real node: records written, updated in place when they fail again, cleared, listed."""

from __future__ import annotations

import dataclasses
import time

from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch.quarantine import (
    QuarantineRecord,
    clear_products,
    list_records,
    quarantine_actions,
    write_records,
)

BAD_ROW = QuarantineRecord(kind="row", reason="invalid_row", message="price: must be >= 0", catalogue="shop.jsonl", line=7, raw='{"id": "x"}')
BAD_IMAGE = QuarantineRecord(
    kind="image", reason="not_found", message="HTTP 404", catalogue="shop.jsonl", line=3, product_id="sku-1",
    source="https://cdn.example/sku-1.jpg", retryable=True,
)
NO_IMAGE = QuarantineRecord(
    kind="product", reason="no_usable_image", message="no image could be used", catalogue="shop.jsonl", line=3,
    product_id="sku-2", product={"id": "sku-2", "title": "Mug", "images": ["mug.jpg"]},
)


def by_kind(client: OpenSearch, config: Config) -> dict[str, dict[str, object]]:
    return {str(record["kind"]): record for record in list_records(client, config)}


def test_record_ids_follow_what_failed() -> None:
    assert BAD_ROW.record_id == QuarantineRecord(kind="row", reason="other", message="other", catalogue="shop.jsonl", line=7).record_id
    assert BAD_ROW.record_id != QuarantineRecord(kind="row", reason="invalid_row", message="", catalogue="shop.jsonl", line=8).record_id
    again = QuarantineRecord(kind="image", reason="timeout", message="slow", product_id="sku-1", source="https://cdn.example/sku-1.jpg")
    assert BAD_IMAGE.record_id == again.record_id
    assert BAD_IMAGE.record_id != QuarantineRecord(kind="image", reason="not_found", message="", product_id="sku-1", source="b.jpg").record_id
    assert len(BAD_ROW.record_id) == 32


def test_records_are_written_and_listed_with_their_reasons(client: OpenSearch, config: Config) -> None:
    assert list_records(client, config) == []  # no quarantine index yet

    write_records(client, config, [BAD_ROW, BAD_IMAGE, NO_IMAGE])

    records = by_kind(client, config)
    assert set(records) == {"row", "image", "product"}
    assert records["row"]["id"] == BAD_ROW.record_id
    assert (records["row"]["line"], records["row"]["reason"], records["row"]["raw"]) == (7, "invalid_row", '{"id": "x"}')
    assert records["image"]["retryable"] is True and records["image"]["source"] == "https://cdn.example/sku-1.jpg"
    assert records["product"]["product"] == NO_IMAGE.product  # kept whole, for a retry
    assert "product_id" not in records["row"]  # fields without a value are left out
    assert records["row"]["first_seen"] == records["row"]["last_seen"]
    assert sorted(list_records(client, config, size=None), key=lambda r: str(r["id"])) == sorted(
        list_records(client, config), key=lambda r: str(r["id"])
    )


def test_failing_again_updates_the_record_instead_of_adding_one(client: OpenSearch, config: Config) -> None:
    write_records(client, config, [BAD_IMAGE])
    first = by_kind(client, config)["image"]
    time.sleep(0.01)  # so last_seen moves on

    write_records(client, config, [dataclasses.replace(BAD_IMAGE, reason="timeout", message="slow", attempts=2)])

    [record] = list_records(client, config)
    assert record["id"] == first["id"]
    assert (record["reason"], record["message"], record["attempts"]) == ("timeout", "slow", 2)
    assert record["first_seen"] == first["first_seen"] and record["last_seen"] > first["last_seen"]


def test_a_long_source_is_cut_so_the_record_stays_writable(client: OpenSearch, config: Config) -> None:
    data_url = "data:image/png;base64," + "A" * 40_000

    write_records(client, config, [QuarantineRecord(kind="image", reason="too_large", message="x" * 9000, product_id="sku-3", source=data_url)])

    [record] = list_records(client, config)
    assert record["source"] == data_url[:4000] and len(str(record["message"])) == 4000


def test_products_that_succeed_have_their_image_and_product_records_cleared(client: OpenSearch, config: Config) -> None:
    clear_products(client, config, ["sku-1"])  # no quarantine index yet: nothing to do
    write_records(client, config, [BAD_ROW, BAD_IMAGE, NO_IMAGE])

    clear_products(client, config, ["sku-1", "sku-9"])

    assert set(by_kind(client, config)) == {"row", "product"}  # rows are about lines, not products
    clear_products(client, config, ["sku-2"])
    assert set(by_kind(client, config)) == {"row"}


def test_the_newest_records_come_first_and_size_limits_the_list(client: OpenSearch, config: Config) -> None:
    for record in (BAD_ROW, BAD_IMAGE, NO_IMAGE):
        write_records(client, config, [record])
        time.sleep(0.01)

    assert [r["kind"] for r in list_records(client, config)] == ["product", "image", "row"]
    assert [r["kind"] for r in list_records(client, config, size=1)] == ["product"]
    assert len(list_records(client, config, size=None)) == 3


def test_an_upsert_keeps_first_seen_only_in_the_inserted_document(config: Config) -> None:
    [action] = quarantine_actions(config, [BAD_ROW])

    assert action["_index"] == config.quarantine_index and action["_id"] == BAD_ROW.record_id
    assert "first_seen" in action["upsert"] and "first_seen" not in action["doc"]
    assert action["doc"]["last_seen"] == action["upsert"]["last_seen"]
