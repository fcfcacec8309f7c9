"""The node is a real OpenSearch with k-NN and Painless: proven on product indices with hand-made vectors.

Every expected ranking is computed independently with numpy, never copied from a response.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from opensearchpy import OpenSearch, helpers

from plugin.config import Config
from plugin.models.base import EmbeddingSpec
from plugin.opensearch import indices
from plugin.opensearch.documents import hit_id
from plugin.search.builder import signal_queries
from plugin.search.request import Filters, Query
from tests.support.models import TINY_SPEC


def make_index(client: OpenSearch, config: Config, spec: EmbeddingSpec = TINY_SPEC) -> str:
    index = indices.create_product_index(client, config, spec)
    indices.swap_alias(client, config.index_alias, index)
    return index


def bulk_index(client: OpenSearch, alias: str, products: Iterable[dict[str, Any]]) -> None:
    actions = ({"_index": alias, "_id": p["product_id"], "_source": p} for p in products)
    indexed, errors = helpers.bulk(client, actions, refresh="wait_for", raise_on_error=False)
    assert errors == []


def product(pid: str, text_vector: list[float], **fields: Any) -> dict[str, Any]:
    return {
        "product_id": pid,
        "title": fields.pop("title", f"Product {pid}"),
        "text_vector": text_vector,
        "embedding_model": TINY_SPEC.name,
        "embedding_model_version": TINY_SPEC.version,
        **fields,
    }


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (b @ a) / (np.linalg.norm(b, axis=1) * np.linalg.norm(a))


def hit_ids(response: dict[str, Any]) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]


def test_bulk_indexed_products_keep_their_vectors_and_metadata(client: OpenSearch, config: Config) -> None:
    make_index(client, config)
    products = [
        product(
            f"p{i}",
            [1.0, float(i), 0.5],
            price=19.99 + i,
            currency="EUR",
            in_stock=i % 2 == 0,
            tags=["summer", f"tag{i}"],
            category="Women > Shoes",
            category_path=["Women", "Women > Shoes"],
            rating=4.5,
            popularity=float(i),
            created_at="2026-11-01T10:00:00Z",
            images=[{"url": f"https://shop.example/p{i}.jpg", "position": 0, "vector": [0.1, 0.2, 0.3, float(i)]}],
        )
        for i in range(25)
    ]
    bulk_index(client, config.index_alias, products)

    assert client.count(index=config.index_alias)["count"] == 25
    stored = client.get(index=config.index_alias, id="p7")["_source"]
    assert stored["text_vector"] == [1.0, 7.0, 0.5]
    assert stored["images"][0]["vector"] == [0.1, 0.2, 0.3, 7.0]
    assert stored["price"] == pytest.approx(26.99)
    in_stock = client.count(index=config.index_alias, body={"query": {"term": {"in_stock": True}}})["count"]
    assert in_stock == 13
    cheap = client.count(index=config.index_alias, body={"query": {"range": {"price": {"lt": 25}}}})["count"]
    assert cheap == 6  # 19.99 .. 24.99


def test_knn_with_efficient_filter_returns_exactly_the_nearest_matching_products(client: OpenSearch, config: Config) -> None:
    vectors = {
        "shoe-red": [1.0, 0.1, 0.0],
        "shoe-blue": [0.9, 0.4, 0.0],
        "shoe-green": [0.2, 1.0, 0.0],
        "bag-red": [1.0, 0.0, 0.05],  # the nearest of all to the query, but not a shoe
        "bag-blue": [0.0, 0.0, 1.0],
        "shoe-black": [0.0, 0.1, 1.0],
    }
    make_index(client, config)
    bulk_index(
        client,
        config.index_alias,
        [product(pid, vec, category=pid.split("-")[0]) for pid, vec in vectors.items()],
    )
    query = np.array([1.0, 0.0, 0.0])
    shoes = [pid for pid in vectors if pid.startswith("shoe")]
    expected = [shoes[i] for i in np.argsort(-cosine(query, np.array([vectors[s] for s in shoes])))[:3]]

    response = client.search(
        index=config.index_alias,
        body={
            "size": 3,
            "query": {"knn": {"text_vector": {"vector": query.tolist(), "k": 3, "filter": {"term": {"category": "shoe"}}}}},
        },
    )

    assert hit_ids(response) == expected == ["shoe-red", "shoe-blue", "shoe-green"]


def test_knn_still_returns_k_hits_when_the_filter_keeps_one_percent(client: OpenSearch, config: Config) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1000, 3)).astype(np.float32)
    rare = set(range(0, 1000, 100))  # 10 of 1,000 products: 1%
    make_index(client, config)
    bulk_index(
        client,
        config.index_alias,
        [product(f"p{i}", vectors[i].tolist(), tags=["rare"] if i in rare else ["common"]) for i in range(1000)],
    )
    query = rng.normal(size=3)
    rare_ids = sorted(rare)
    similarity = cosine(query, vectors[rare_ids])
    expected = [f"p{rare_ids[i]}" for i in np.argsort(-similarity)[:5]]

    response = client.search(
        index=config.index_alias,
        body={
            "size": 5,
            "query": {"knn": {"text_vector": {"vector": query.tolist(), "k": 5, "filter": {"term": {"tags": "rare"}}}}},
        },
    )

    assert len(response["hits"]["hits"]) == 5
    assert hit_ids(response) == expected


def test_script_score_with_painless_cosine_similarity_ranks_as_numpy_does(client: OpenSearch, config: Config) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 3)).astype(np.float32)
    make_index(client, config)
    bulk_index(client, config.index_alias, [product(f"p{i}", vectors[i].tolist()) for i in range(40)])
    query = rng.normal(size=3).astype(np.float32)

    response = client.search(
        index=config.index_alias,
        body={
            "size": 40,
            "query": {
                "script_score": {
                    "query": {"match_all": {}},
                    "script": {
                        "source": "1.0 + cosineSimilarity(params.query_vector, doc['text_vector'])",
                        "params": {"query_vector": query.tolist()},
                    },
                }
            },
        },
    )

    expected_scores = 1.0 + cosine(query, vectors)
    expected_order = [f"p{i}" for i in np.argsort(-expected_scores)]
    assert hit_ids(response) == expected_order
    for hit in response["hits"]["hits"]:
        assert hit["_score"] == pytest.approx(expected_scores[int(hit["_id"][1:])], rel=1e-5)


def test_stored_painless_script_takes_params(client: OpenSearch, config: Config) -> None:
    script_id = f"{config.index_alias}-similarity-times-popularity"
    client.put_script(
        id=script_id,
        body={
            "script": {
                "lang": "painless",
                "source": "(1.0 + cosineSimilarity(params.query_vector, doc['text_vector'])) "
                "* (1.0 + params.popularity_weight * doc['popularity'].value)",
            }
        },
    )
    try:
        vectors = np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 1, 0], [0.7, 0.7, 0.1]], dtype=np.float32)
        popularity = np.array([0.0, 5.0, 100.0, 1.0])
        make_index(client, config)
        bulk_index(
            client,
            config.index_alias,
            [product(f"p{i}", vectors[i].tolist(), popularity=float(popularity[i])) for i in range(4)],
        )
        query = np.array([1.0, 0.0, 0.0], dtype=np.float32)

        def ranked(weight: float) -> list[str]:
            body = {
                "query": {
                    "script_score": {
                        "query": {"match_all": {}},
                        "script": {"id": script_id, "params": {"query_vector": query.tolist(), "popularity_weight": weight}},
                    }
                }
            }
            return hit_ids(client.search(index=config.index_alias, body=body))

        def numpy_ranked(weight: float) -> list[str]:
            scores = (1.0 + cosine(query, vectors)) * (1.0 + weight * popularity)
            return [f"p{i}" for i in np.argsort(-scores)]

        assert ranked(0.0) == numpy_ranked(0.0) == ["p0", "p1", "p3", "p2"]
        assert ranked(0.1) == numpy_ranked(0.1)
        assert ranked(0.1)[0] == "p2"  # the parameter really changes the ranking
    finally:
        client.delete_script(id=script_id)


def test_a_product_with_several_images_is_found_by_any_of_them_and_returned_once(client: OpenSearch, config: Config) -> None:
    make_index(client, config)
    bulk_index(
        client,
        config.index_alias,
        [
            product("jacket", [1, 0, 0], images=[
                {"url": "front.jpg", "position": 0, "vector": [1, 0, 0, 0]},
                {"url": "back.jpg", "position": 1, "vector": [0, 0, 0, 1]},
            ]),
            product("boots", [0, 1, 0], images=[{"url": "boots.jpg", "position": 0, "vector": [0, 1, 0, 0]}]),
            product("scarf", [0, 0, 1], images=[{"url": "scarf.jpg", "position": 0, "vector": [0, 0, 1, 0.2]}]),
        ],
    )

    def search(vector: list[float]) -> dict[str, Any]:
        return client.search(
            index=config.index_alias,
            body={
                "size": 3,
                "_source": ["product_id"],
                "query": {
                    "nested": {
                        "path": "images",
                        "score_mode": "max",
                        "query": {"knn": {"images.vector": {"vector": vector, "k": 3}}},
                        "inner_hits": {"size": 1, "_source": ["images.url"]},
                    }
                },
            },
        )

    by_back = search([0, 0, 0.1, 1])
    assert hit_ids(by_back) == ["jacket", "scarf", "boots"][: len(by_back["hits"]["hits"])]
    best_image = by_back["hits"]["hits"][0]["inner_hits"]["images"]["hits"]["hits"][0]["_source"]["url"]
    assert best_image == "back.jpg"
    assert hit_ids(search([1, 0, 0, 0]))[0] == "jacket"
    assert len(set(hit_ids(by_back))) == len(hit_ids(by_back))


def test_knn_over_three_shards_returns_what_exact_search_over_the_same_vectors_returns(client: OpenSearch, config: Config) -> None:
    spec = EmbeddingSpec(name=TINY_SPEC.name, version=TINY_SPEC.version, image_dims=32, text_dims=3)
    sharded = dataclasses.replace(config, index_shards=3)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(900, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kinds = np.array(["shoe", "bag", "hat"])[np.arange(900) % 3]
    index = make_index(client, sharded, spec)
    bulk_index(
        client,
        config.index_alias,
        [
            product(f"p{i}", [1.0, 0.0, 0.0], category=str(kinds[i]), category_path=[str(kinds[i])], images=[{"url": f"u{i}", "position": 0, "vector": v.tolist()}])
            for i, v in enumerate(vectors)
        ],
    )
    shards = client.cat.shards(index=index, format="json")
    assert sorted({int(s["shard"]) for s in shards}) == [0, 1, 2]
    assert all(int(s["docs"]) > 0 for s in shards)  # every shard holds part of the catalogue

    for query in rng.normal(size=(10, 32)).astype(np.float32):
        for kind in (None, "bag"):
            allowed = np.ones(900, bool) if kind is None else kinds == kind
            scores = np.where(allowed, vectors @ query / np.linalg.norm(query), -np.inf)
            expected = [f"p{i}" for i in np.argsort(-scores)[:10]]
            request = Query(image_vector=query.tolist(), filters=Filters(category=kind), window=10, size=10, weights={"image": 1.0})

            found = [hit_id(hit) for hit in client.search(index=config.index_alias, body=signal_queries(request)["image"])["hits"]["hits"]]

            assert found == expected
