"""The versioned product template renders into a k-NN mapping that needs no native libraries."""

from __future__ import annotations

from typing import Any

import pytest

import mappings
from plugin.config import Config
from plugin.models.base import OFFLINE_DEFAULT, EmbeddingSpec
from plugin.opensearch.indices import product_index_body


def knn_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, field in properties.items():
        if field.get("type") == "knn_vector":
            found[prefix + name] = field
        if "properties" in field:
            found.update(knn_fields(field["properties"], f"{prefix}{name}."))
    return found


def test_every_vector_field_uses_lucene_hnsw_cosine_with_the_models_dimensions() -> None:
    body = product_index_body(Config.from_env({}), OFFLINE_DEFAULT)

    fields = knn_fields(body["mappings"]["properties"])

    assert set(fields) == {"text_vector", "images.vector"}
    for field in fields.values():
        # faiss, the k-NN default, needs native libraries that a Maven-built node lacks.
        assert field["method"]["engine"] == "lucene"
        assert field["method"]["name"] == "hnsw"
        assert field["method"]["space_type"] == "cosinesimil"
    assert fields["images.vector"]["dimension"] == 1280
    assert fields["text_vector"]["dimension"] == 384
    assert body["settings"]["index"]["knn"] is True


def test_the_index_records_its_mapping_version_and_model() -> None:
    spec = EmbeddingSpec(name="clip-vit-b32", version="2024-01", image_dims=512, text_dims=512, shared_space=True)

    meta = product_index_body(Config.from_env({"LOOKALIKE_INDEX_REPLICAS": "2"}), spec)

    assert meta["mappings"]["_meta"] == {
        "mapping": "products",
        "mapping_version": 5,
        "embedding_model": "clip-vit-b32",
        "embedding_model_version": "2024-01",
        "image_dims": 512,
        "text_dims": 512,
        "shared_space": True,
    }
    assert meta["settings"]["index"]["number_of_replicas"] == 2


def test_render_keeps_types_and_refuses_a_placeholder_without_a_value() -> None:
    assert mappings.render({"a": ["${n}", "x"], "b": "${flag}"}, {"n": 3, "flag": False}) == {"a": [3, "x"], "b": False}
    with pytest.raises(KeyError, match="mapping placeholder \\$\\{missing\\} has no value"):
        mappings.render({"a": "${missing}"}, {})


def test_an_unknown_template_version_is_an_error() -> None:
    with pytest.raises(FileNotFoundError, match="products.v99.json"):
        mappings.load("products", 99)


def test_vector_sizes_outside_what_lucene_accepts_are_refused() -> None:
    with pytest.raises(ValueError, match="image_dims must be between 1 and 16000"):
        EmbeddingSpec(name="x", version="1", image_dims=0, text_dims=3)


def test_images_hold_their_rights_and_exactly_the_provenance_the_reader_writes() -> None:
    from plugin.images.provenance import MAPPING

    images = mappings.load("products", mappings.CURRENT_PRODUCT_VERSION)["mappings"]["properties"]["images"]["properties"]

    assert {"licence", "credit", "source_url"} <= images.keys()
    assert images["provenance"] == MAPPING
