"""The indexed product's shape: its field lists held against the mapping, the model check, and the document."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import OpenSearch

from plugin.catalogue.reader import Product
from plugin.config import Config
from plugin.models.base import EmbeddingSpec
from plugin.opensearch import indices
from plugin.opensearch.documents import (
    DETAIL_FIELDS,
    IMAGE_FIELDS,
    PRODUCT_FIELDS,
    SOURCE_FIELDS,
    describe_model,
    image_entry,
    photo_entries,
    product_document,
    same_model,
    view_entry,
    without_views,
)
from plugin.opensearch.indices import product_index_body
from tests.support.models import TINY_SPEC, hand_made_document

ROW = {
    "id": "sku-1", "title": "Red leather sneaker", "description": "Low-top.", "brand": "Acme",
    "category": "Women > Shoes > Sneakers", "tags": ["Red", "leather"], "price": 89.9, "currency": "EUR",
    "stock": 12, "popularity": 0.7, "rating": 4.4, "product_url": "https://shop.example/p/sku-1",
    "images": ["front.jpg", "side.jpg"], "created_at": "2026-10-01T08:00:00Z",
}


def product_properties() -> dict[str, Any]:
    return product_index_body(Config.from_env({}), TINY_SPEC)["mappings"]["properties"]


def field_exists(properties: dict[str, Any], dotted: str) -> bool:
    head, _, rest = dotted.partition(".")
    if head not in properties:
        return False
    return not rest or field_exists(properties[head].get("properties", {}), rest)


def entries(vectors: tuple[list[float], list[float]] = ([1, 0, 0, 0], [0, 1, 0, 0])) -> list[dict[str, Any]]:
    return [
        image_entry("front.jpg", 0, "fp-front", "c3c3", (640, 480), ["running shoe", "sneaker"], vectors[0]),
        image_entry("side.jpg", 1, "fp-side", "a5a5", (480, 640), ["sneaker", "sandal"], vectors[1]),
    ]


def test_the_field_lists_are_the_mappings_properties() -> None:
    properties = product_properties()

    assert set(PRODUCT_FIELDS) == set(properties)
    assert len(PRODUCT_FIELDS) == len(set(PRODUCT_FIELDS))
    assert set(IMAGE_FIELDS) == set(properties["images"]["properties"])


@pytest.mark.parametrize("field", sorted({*SOURCE_FIELDS, *DETAIL_FIELDS}))
def test_returned_fields_are_fields_of_the_mapping_and_never_vectors(field: str) -> None:
    assert field_exists(product_properties(), field)
    assert "vector" not in field


def test_same_model_compares_name_and_version() -> None:
    meta = {"embedding_model": TINY_SPEC.name, "embedding_model_version": TINY_SPEC.version, "image_dims": 4}

    assert same_model(meta, TINY_SPEC)
    assert not same_model({**meta, "embedding_model_version": "8"}, TINY_SPEC)
    assert not same_model({**meta, "embedding_model": "other"}, TINY_SPEC)
    assert not same_model({}, TINY_SPEC)
    bigger = EmbeddingSpec(name=TINY_SPEC.name, version=TINY_SPEC.version, image_dims=8, text_dims=3)
    assert same_model(meta, bigger)  # the identity decides, not the sizes
    assert describe_model(meta) == "tiny-test-model v7"


def test_a_product_becomes_a_document_of_the_mappings_fields() -> None:
    product = Product.model_validate(ROW)

    document = product_document(product, entries(), [0.5, 0.5, 0.0], "text-fp", TINY_SPEC)

    assert set(document) <= set(PRODUCT_FIELDS)
    # An image without views, rights or Content Credentials has none of those fields, not empty ones.
    optional = {"view", "gallery_views", "licence", "credit", "source_url", "provenance"}
    assert all(set(entry) == set(IMAGE_FIELDS) - optional for entry in document["images"])
    assert document["category"] == "Women > Shoes > Sneakers"
    assert document["category_path"] == ["Women", "Women > Shoes", "Women > Shoes > Sneakers"]
    assert document["tags"] == ["red", "leather"]
    assert document["price"] == 89.9 and isinstance(document["price"], float)
    assert document["labels"] == ["running shoe", "sneaker", "sandal"]  # every photo's labels, once each, in order
    assert (document["embedding_model"], document["embedding_model_version"]) == (TINY_SPEC.name, TINY_SPEC.version)
    assert document["created_at"] == "2026-10-01T08:00:00+00:00"
    assert document["text_vector"] == [0.5, 0.5, 0.0]
    assert "updated_at" not in document  # set when the document is written, outside the fingerprint


def test_fields_without_a_value_are_left_out() -> None:
    product = Product.model_validate({"id": "sku-2", "title": "Mug", "images": ["mug.jpg"]})

    document = product_document(product, [], None, "text-fp", TINY_SPEC)

    assert not {"brand", "price", "currency", "stock", "rating", "created_at", "product_url", "text_vector", "dup_group"} & set(document)
    assert document["images"] == [] and document["in_stock"] is True


def test_the_fingerprint_is_stable_and_ignores_vectors() -> None:
    product = Product.model_validate(ROW)

    first = product_document(product, entries(), [0.5, 0.5, 0.0], "text-fp", TINY_SPEC)
    again = product_document(Product.model_validate(ROW), entries(), [0.5, 0.5, 0.0], "text-fp", TINY_SPEC)
    new_vectors = product_document(product, entries(([0, 0, 1, 0], [0, 0, 0, 1])), [0.0, 0.0, 1.0], "text-fp", TINY_SPEC)
    retitled = product_document(Product.model_validate({**ROW, "title": "Blue leather sneaker"}), entries(), [0.5, 0.5, 0.0], "text-fp", TINY_SPEC)
    other_text = product_document(product, entries(), [0.5, 0.5, 0.0], "another-text-fp", TINY_SPEC)

    assert len(first["fingerprint"]) == 64
    assert again["fingerprint"] == first["fingerprint"]  # an unchanged product is recognised without writing it
    assert new_vectors["fingerprint"] == first["fingerprint"]
    assert retitled["fingerprint"] != first["fingerprint"]
    assert other_text["fingerprint"] != first["fingerprint"]  # a new text model changes the text fingerprint


def test_the_near_duplicate_group_is_the_main_photos_hash() -> None:
    product = Product.model_validate(ROW)

    assert product_document(product, entries(), None, "t", TINY_SPEC)["dup_group"] == "c3c3"
    assert product_document(product, entries()[::-1], None, "t", TINY_SPEC)["dup_group"] == "a5a5"


def test_gallery_views_are_entries_beside_their_photo_that_shoppers_never_see() -> None:
    front, side = entries()
    photo = image_entry("front.jpg", 0, "fp-front", "c3c3", (640, 480), ["sneaker"], [1, 0, 0, 0], ("rotate_45", "small"))
    turned, small = view_entry(photo, "rotate_45", [0, 1, 0, 0]), view_entry(photo, "small", [0, 0, 1, 0])

    document = product_document(Product.model_validate(ROW), [photo, turned, small, side], None, "t", TINY_SPEC)

    assert photo["gallery_views"] == ["rotate_45", "small"]  # which views were made, so a new choice re-embeds
    assert turned == {"url": "front.jpg", "position": 0, "fingerprint": "fp-front", "view": "rotate_45", "vector": [0.0, 1.0, 0.0, 0.0]}
    assert set(turned) < set(IMAGE_FIELDS)
    assert photo_entries(document["images"]) == [photo, side]
    assert without_views(document)["images"] == [photo, side]
    assert document["labels"] == ["sneaker", "sandal"] and document["dup_group"] == "c3c3"
    without = product_document(Product.model_validate(ROW), [photo, side], None, "t", TINY_SPEC)
    assert without["fingerprint"] != document["fingerprint"]  # views asked for or dropped rewrite the document
    assert "gallery_views" not in front  # a document without views stays one a version 2 index accepts


def test_vectors_are_stored_as_rounded_floats() -> None:
    entry = image_entry("a.jpg", 0, "fp", "00", (1, 1), (), [0.123456789, 1, 0, 0])

    assert entry["vector"] == [0.123457, 1.0, 0.0, 0.0]


def test_a_hand_made_document_is_accepted_by_a_real_index_of_the_strict_mapping(client: OpenSearch, config: Config) -> None:
    indices.ensure_product_index(client, config, TINY_SPEC)
    document = hand_made_document({"id": "sku-1", "title": "Red mug", "price": 9.5}, [([1, 0, 0, 0], "ab12")], [1, 0, 0])

    client.index(index=config.index_alias, id="sku-1", body=document, refresh=True)

    stored = client.get(index=config.index_alias, id="sku-1")["_source"]
    assert stored == document and stored["dup_group"] == "ab12"
