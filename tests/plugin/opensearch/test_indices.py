"""Indices are created under versioned names and reached through an alias that moves atomically."""

from __future__ import annotations

import dataclasses
import re
import threading

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from plugin.config import Config
from plugin.errors import IndexLifecycleError
from plugin.models.base import EmbeddingSpec
from plugin.opensearch import indices
from tests.support.models import TINY_SPEC

OTHER_SPEC = EmbeddingSpec(name="other-model", version="1", image_dims=4, text_dims=3)


def test_a_new_index_has_a_versioned_name_and_the_models_mapping(client: OpenSearch, config: Config) -> None:
    index = indices.create_product_index(client, config, TINY_SPEC)

    assert index.startswith(f"{config.index_alias}-v5-")
    mapping = client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["text_vector"]["dimension"] == 3
    assert mapping["properties"]["images"]["properties"]["vector"]["dimension"] == 4
    assert indices.index_model(client, index)["embedding_model"] == "tiny-test-model"
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["knn"] == "true"
    assert indices.indices_behind(client, config.index_alias) == []  # not live until swapped


def test_ensure_creates_the_index_and_alias_once(client: OpenSearch, config: Config) -> None:
    first = indices.ensure_product_index(client, config, TINY_SPEC)
    second = indices.ensure_product_index(client, config, TINY_SPEC)

    assert first == second
    assert indices.indices_behind(client, config.index_alias) == [first]


def _segment_search(client: OpenSearch, index: str) -> str:
    settings = client.indices.get_settings(index=index, flat_settings=True)[index]["settings"]
    return settings["index.search.concurrent_segment_search.mode"]


def test_a_product_index_searches_its_segments_concurrently_as_configured(client: OpenSearch, config: Config) -> None:
    index = indices.create_product_index(client, config, TINY_SPEC)

    assert _segment_search(client, index) == "all"


def test_ensuring_the_live_index_gives_it_a_changed_search_setting_without_re_ingest(client: OpenSearch, config: Config) -> None:
    live = indices.ensure_product_index(client, config, TINY_SPEC)
    client.indices.put_settings(index=live, body={"index.search.concurrent_segment_search.mode": "none"})

    assert indices.ensure_product_index(client, config, TINY_SPEC) == live
    assert _segment_search(client, live) == "all"

    auto = dataclasses.replace(config, segment_search="auto")
    indices.ensure_product_index(client, auto, TINY_SPEC)
    assert _segment_search(client, live) == "auto"


def test_swapping_the_alias_moves_reads_and_writes_to_the_new_index(client: OpenSearch, config: Config) -> None:
    old = indices.ensure_product_index(client, config, TINY_SPEC)
    client.index(index=config.index_alias, id="a", body={"product_id": "a", "title": "old"}, refresh=True)
    new = indices.create_product_index(client, config, TINY_SPEC)
    client.index(index=new, id="b", body={"product_id": "b", "title": "new"}, refresh=True)

    previous = indices.swap_alias(client, config.index_alias, new)

    assert previous == [old]
    assert indices.indices_behind(client, config.index_alias) == [new]
    assert [h["_id"] for h in client.search(index=config.index_alias)["hits"]["hits"]] == ["b"]
    client.index(index=config.index_alias, id="c", body={"product_id": "c", "title": "written through alias"}, refresh=True)
    assert client.exists(index=new, id="c") and not client.exists(index=old, id="c")
    assert client.exists(index=old, id="a")  # the old index is kept for a rollback


def test_searches_during_a_swap_always_see_exactly_one_index(client: OpenSearch, config: Config) -> None:
    first = indices.ensure_product_index(client, config, TINY_SPEC)
    second = indices.create_product_index(client, config, TINY_SPEC)
    client.index(index=first, id="1", body={"product_id": "1"}, refresh=True)
    client.index(index=second, id="2", body={"product_id": "2"}, refresh=True)
    counts: list[int] = []
    done = threading.Event()

    def search_continuously() -> None:
        while not done.is_set():
            counts.append(client.count(index=config.index_alias)["count"])

    reader = threading.Thread(target=search_continuously)
    reader.start()
    try:
        for _ in range(10):
            indices.swap_alias(client, config.index_alias, second)
            indices.swap_alias(client, config.index_alias, first)
    finally:
        done.set()
        reader.join()

    assert counts and set(counts) == {1}


def test_swapping_to_a_missing_index_is_refused_and_leaves_the_alias(client: OpenSearch, config: Config) -> None:
    live = indices.ensure_product_index(client, config, TINY_SPEC)

    with pytest.raises(IndexLifecycleError, match="no such index"):
        indices.swap_alias(client, config.index_alias, f"{config.index_alias}-v1-missing")

    assert indices.indices_behind(client, config.index_alias) == [live]


def test_a_document_that_does_not_match_the_mapping_is_rejected(client: OpenSearch, config: Config) -> None:
    indices.ensure_product_index(client, config, TINY_SPEC)

    with pytest.raises(RequestError, match="strict_dynamic_mapping_exception"):
        client.index(index=config.index_alias, body={"product_id": "x", "colour": "red"})
    with pytest.raises(RequestError, match="failed to parse field \\[text_vector\\] of type \\[knn_vector\\]"):
        client.index(index=config.index_alias, body={"product_id": "x", "text_vector": [1.0, 2.0]})


def test_go_live_moves_the_alias_only_onto_a_product_index_of_the_given_model(client: OpenSearch, config: Config) -> None:
    live = indices.ensure_product_index(client, config, TINY_SPEC)
    other = indices.create_product_index(client, config, OTHER_SPEC)
    config_index = config.quarantine_index
    indices.ensure_index(client, config, config_index, "quarantine")

    for refused, why in ((other, "it holds vectors of other-model v1 and the configured model is tiny-test-model v7."),
                         (config_index, "it is not one of its product indices")):
        with pytest.raises(IndexLifecycleError, match=re.escape(f"Refused to point alias {config.index_alias} at {refused}: {why}")):
            indices.go_live(client, config, refused, TINY_SPEC)
        assert indices.indices_behind(client, config.index_alias) == [live]

    fresh = indices.create_product_index(client, config, TINY_SPEC)
    assert indices.go_live(client, config, fresh, TINY_SPEC) == [live]
    assert indices.indices_behind(client, config.index_alias) == [fresh]
