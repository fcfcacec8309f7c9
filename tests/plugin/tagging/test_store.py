"""Predictions stored on the products: made after each run, obeying the merchandiser's decisions,
carried through a rewrite, and left out of an index that has no room for them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from ingest import runner
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for, spec_for_model
from plugin.opensearch import indices
from plugin.opensearch.client import connect
from plugin.opensearch.tag_reviews import Review, record_decision
from plugin.tagging.predict import predict_products
from plugin.tagging.store import (
    STORED_SHARE,
    near_products,
    store_predictions,
    stored_fields,
)
from plugin.tagging.vote import Prediction
from sample_data.vendure import prepare_vendure
from tests.support.catalogues import (
    TAGGED_SHOP,
    UNTAGGED,
    tagged_shop_config,
    tagged_shop_rows,
    write_catalogue,
)

FOOTWEAR = "Sports & Outdoor > Footwear"


def test_a_rejected_category_gives_its_share_to_the_others_and_an_accepted_tag_is_certain() -> None:
    # 0.1 of the vote went to neighbours with tags but no category.
    prediction = Prediction("Shoes", 0.6, (("color:red", 0.6),), (("Shoes", 0.6), ("Boots", 0.2), ("Bags", 0.1)))

    fields = stored_fields(prediction, Review(rejected_categories=("Shoes",), accepted_tags=("color:blue",), rejected_tags=("color:red",)))

    assert fields["predicted_category"] == "Boots" and fields["predicted"]["confidence"] == pytest.approx(0.6, abs=0.001)
    assert [c["category"] for c in fields["predicted"]["categories"]] == ["Boots", "Bags"]
    assert fields["predicted_tags"] == ["color:blue"]
    assert fields["predicted"]["tags"] == [{"tag": "color:blue", "confidence": 1.0}]


def test_an_accepted_category_is_stored_whatever_the_vote_and_a_weak_one_is_only_shown() -> None:
    fields = stored_fields(Prediction("Shoes", 0.9, (), (("Shoes", 0.9),)), Review(accepted_category="Boots"))
    weak = stored_fields(Prediction("Shoes", 0.4, (), (("Shoes", 0.4), ("Boots", 0.35), ("Bags", 0.25))))

    assert (fields["predicted_category"], fields["predicted"]["confidence"]) == ("Boots", 1.0)
    assert weak["predicted_category"] is None and weak["predicted"]["category"] == "Shoes" and 0.4 < STORED_SHARE


@pytest.fixture(scope="module")
def tagged(base_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, OpenSearch]]:
    """Sixteen demo products the shop tagged, and a running shoe it did not, ingested by one run."""
    config = tagged_shop_config(base_config, tmp_path_factory.mktemp("tagged"))
    client = connect(config)
    yield config, client
    client.indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)
    client.close()


@pytest.fixture(scope="module")
def backend(base_config: Config) -> EmbeddingBackend:
    return backend_for(base_config)


def stored(client: OpenSearch, config: Config, product_id: str) -> dict[str, Any]:
    source: dict[str, Any] = client.get(index=config.index_alias, id=product_id)["_source"]
    return source


def test_a_run_stores_on_every_product_what_its_neighbours_vote_for(tagged: tuple[Config, OpenSearch], backend: EmbeddingBackend) -> None:
    config, client = tagged

    untagged = stored(client, config, UNTAGGED)

    assert untagged["predicted_category"] == FOOTWEAR and untagged["predicted"]["confidence"] >= STORED_SHARE
    assert "category" not in untagged  # the shop's own fields are untouched
    for pid in TAGGED_SHOP:
        assert stored(client, config, pid)["predicted"]["at"]
    votes = predict_products(client, config.index_alias, ["laptop", UNTAGGED], backend.embed_texts)
    assert stored(client, config, "laptop")["predicted_category"] == stored_fields(votes["laptop"])["predicted_category"]


def test_a_rejected_category_is_not_stored_again_until_the_rejection_is_undone(
    tagged: tuple[Config, OpenSearch], backend: EmbeddingBackend
) -> None:
    config, client = tagged

    record_decision(client, config, UNTAGGED, "category", FOOTWEAR, "reject", "tester")
    store_predictions(client, config.index_alias, backend, [UNTAGGED])
    rejected = stored(client, config, UNTAGGED)
    record_decision(client, config, UNTAGGED, "category", FOOTWEAR, "undo", "tester")
    store_predictions(client, config.index_alias, backend, [UNTAGGED])

    assert rejected["predicted_category"] != FOOTWEAR and FOOTWEAR not in [c["category"] for c in rejected["predicted"]["categories"]]
    assert rejected["predicted"]["rejected_categories"] == [FOOTWEAR]
    assert stored(client, config, UNTAGGED)["predicted_category"] == FOOTWEAR


def test_an_accepted_tag_is_stored_and_filterable_with_full_confidence(tagged: tuple[Config, OpenSearch], backend: EmbeddingBackend) -> None:
    config, client = tagged

    record_decision(client, config, "laptop", "tag", "color:silver", "accept", "tester")
    store_predictions(client, config.index_alias, backend, ["laptop"])

    laptop = stored(client, config, "laptop")
    assert "color:silver" in laptop["predicted_tags"] and {"tag": "color:silver", "confidence": 1.0} in laptop["predicted"]["tags"]
    found = client.search(index=config.index_alias, body={"query": {"term": {"predicted_tags": "color:silver"}}})["hits"]["hits"]
    assert [hit["_id"] for hit in found] == ["laptop"]


def test_a_rewritten_product_keeps_its_predictions_until_the_next_are_made(tagged: tuple[Config, OpenSearch], tmp_path: Path) -> None:
    config, client = tagged
    row = next(r for r in tagged_shop_rows(prepare_vendure(config.data_dir)) if r["id"] == "tablet")
    before = stored(client, config, "tablet")["predicted"]
    quiet = dataclasses.replace(config, ingest=dataclasses.replace(config.ingest, predict_tags=False))

    summary = runner.run_catalogue(client, quiet, write_catalogue(tmp_path / "c.jsonl", [row | {"price": "999.00"}]), eager=True)

    assert summary["updated"] == 1
    after = stored(client, config, "tablet")
    assert after["price"] == 999.0 and after["predicted"] == before


def test_the_products_near_a_changed_one_are_predicted_with_it(tagged: tuple[Config, OpenSearch]) -> None:
    config, client = tagged

    near = near_products(client, config.index_alias, [UNTAGGED], k=4)

    assert near[0] == UNTAGGED and len(near) >= 4
    assert sum(pid.endswith(("shoe", "sneakers")) for pid in near) >= 2


def test_an_index_before_mapping_v5_is_left_without_predictions(config: Config, client: OpenSearch, backend: EmbeddingBackend) -> None:
    old = indices.create_product_index(client, config, spec_for_model(config.model), version=4)

    result = store_predictions(client, config.index_alias, backend, index=old)

    assert result.predicted == 0 and result.skipped is not None and "--new-index" in result.skipped and "v4" in result.skipped


def test_an_index_of_another_model_is_left_without_predictions(tagged: tuple[Config, OpenSearch], backend: EmbeddingBackend) -> None:
    config, client = tagged
    other = dataclasses.replace(backend.spec, version="another")

    class Other:
        spec = other
        embed_texts = backend.embed_texts

    result = store_predictions(client, config.index_alias, Other(), ["laptop"])  # type: ignore[arg-type]

    assert result.predicted == 0 and result.skipped is not None and "holds vectors of" in result.skipped
