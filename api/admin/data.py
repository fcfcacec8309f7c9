"""What the admin views show about the index and the catalogue, read from OpenSearch.

Plain functions from a client and an alias to JSON-ready dicts, so the HTML pages and the
``/admin/api`` routes show the same figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from api.results import with_thumbnails
from api.schemas import ReviewBody
from plugin.catalogue.reader import MAX_ID_BYTES
from plugin.config import Config
from plugin.errors import ProductNotFound
from plugin.opensearch.documents import (
    DETAIL_FIELDS,
    PREDICTED_FIELDS,
    SOURCE_FIELDS,
    photo_entries,
)
from plugin.opensearch.indices import index_model, indices_behind
from plugin.opensearch.tag_reviews import record_decision, reviews_of
from plugin.search.query_vectors import QueryEmbedder
from plugin.search.request import Filters, Query
from plugin.search.service import search
from plugin.tagging.predict import predict_product
from plugin.tagging.store import store_predictions, stored_fields
from plugin.tagging.vote import Prediction


def index_overview(client: OpenSearch, config: Config) -> dict[str, Any]:
    """The alias, the index behind it, its document count, size, model and mapping, and the side indices."""
    behind = indices_behind(client, config.index_alias)
    overview: dict[str, Any] = {"alias": config.index_alias, "indices": behind, "index": behind[0] if behind else None}
    if behind:
        index = behind[0]
        stats = client.indices.stats(index=index, metric="docs,store")["indices"][index]["primaries"]
        meta = index_model(client, index)
        overview.update(
            documents=client.count(index=index)["count"],
            size_bytes=stats["store"]["size_in_bytes"],
            model={"name": meta.get("embedding_model"), "version": meta.get("embedding_model_version")},
            mapping_version=meta.get("mapping_version"),
            mapping=client.indices.get_mapping(index=index)[index]["mappings"],
        )
    overview["quarantined"] = _count(client, config.quarantine_index)
    overview["thumbnails"] = _count(client, config.thumbnail_index)
    return overview


def catalogue_page(client: OpenSearch, alias: str, page: int, size: int, text: str | None) -> dict[str, Any]:
    """One page of the catalogue (by title, or matching *text*), with each product's thumbnails."""
    if not indices_behind(client, alias):
        return {"total": 0, "page": page, "size": size, "products": []}
    # Not the model's ImageNet labels: a search for "mousetrap" must not list a running shoe.
    fields = ["title^3", "brand.text", "category.text", "tags.text"]
    query: dict[str, Any] = {"multi_match": {"query": text, "fields": fields}} if text else {"match_all": {}}
    response = client.search(
        index=alias,
        body={
            "from": (page - 1) * size, "size": size, "query": query, "_source": DETAIL_FIELDS,
            "sort": ["_score", {"title.keyword": "asc"}], "track_total_hits": True,
        },
    )
    products = [with_thumbnails(hit["_source"]) for hit in response["hits"]["hits"]]
    return {"total": response["hits"]["total"]["value"], "page": page, "size": size, "products": products}


def product_detail(
    client: OpenSearch, alias: str, product_id: str, embed_text: Callable[[str], list[float]], neighbours: int = 6
) -> dict[str, Any] | None:
    """A product with its images, the category and tags its nearest tagged products vote for beside
    the shop's own, and its near-duplicates.

    Near-duplicates are the products in its perceptual-hash group (the same main photo, give
    or take resizing and compression); the nearest neighbours by image vector follow, with
    their similarity, so a merchandiser sees the look-alikes a hash does not catch.
    """
    if len(product_id.encode()) > MAX_ID_BYTES:
        return None  # OpenSearch refuses longer ids, so no product has one
    try:
        source = client.get(index=alias, id=product_id, _source_includes=[*DETAIL_FIELDS, *PREDICTED_FIELDS])["_source"]
    except NotFoundError:
        return None
    duplicates: list[dict[str, Any]] = []
    if source.get("dup_group"):
        response = client.search(
            index=alias,
            body={
                "size": 20, "_source": SOURCE_FIELDS,
                "query": {"bool": {"filter": [{"term": {"dup_group": source["dup_group"]}}], "must_not": [{"ids": {"values": [product_id]}}]}},
            },
        )
        duplicates = [with_thumbnails(hit["_source"]) for hit in response["hits"]["hits"]]
    similar: list[dict[str, Any]] = []
    vectors = photo_entries(client.get(index=alias, id=product_id, _source_includes=["images.vector", "images.view"])["_source"].get("images", []))
    if vectors:
        query = Query(image_vector=vectors[0]["vector"], filters=Filters(exclude_ids=(product_id,)), size=neighbours, explain=True)
        for hit in search(client, alias, query).hits:
            signal = hit.get("explain", {}).get("signals", {}).get("image", {})
            similar.append(with_thumbnails(hit) | {"similarity": signal.get("score")})
    tags = [str(t) for t in source.get("tags", [])]
    return {
        "product": with_thumbnails({k: v for k, v in source.items() if k not in PREDICTED_FIELDS}),
        "tags": tags,
        "predicted": predictions_shown(client, alias, product_id, source, embed_text),
        "duplicates": duplicates,
        "similar": similar,
    }


def predictions_shown(
    client: OpenSearch, alias: str, product_id: str, source: dict[str, Any], embed_text: Callable[[str], list[float]]
) -> dict[str, Any]:
    """The category and tags voted for *product_id* now, after the merchandiser's decisions, beside
    the shop's own (where they differ, a merchandiser looks) and what searches filter by (``stored``)."""
    prediction = predict_product(client, alias, product_id, embed_text)
    shown: dict[str, Any] = stored_fields(prediction or Prediction(None, 0.0), reviews_of(client, alias, [product_id]).get(product_id))["predicted"]
    tags = [str(t) for t in source.get("tags", [])]
    predicted_tags = {entry["tag"] for entry in shown["tags"]}
    return shown | {
        "category_agrees": shown["category"] is not None and shown["category"] == source.get("category"),
        "new_tags": [entry["tag"] for entry in shown["tags"] if entry["tag"] not in tags],
        "unpredicted_tags": [tag for tag in tags if tag not in predicted_tags],
        # None: the index has no room for predictions, or none has been stored yet.
        "stored": {"category": source.get("predicted_category"), "tags": source.get("predicted_tags", []), "at": source["predicted"].get("at")}
        if "predicted" in source else None,
    }


def review_prediction(client: OpenSearch, config: Config, product_id: str, body: ReviewBody, by: str, embedder: QueryEmbedder) -> dict[str, Any]:
    """Record a merchandiser's decision on one of *product_id*'s predicted values, store the
    product's predictions again at once, and return what the product page now shows."""
    alias = config.index_alias
    if len(product_id.encode()) > MAX_ID_BYTES or not client.exists(index=alias, id=product_id):
        raise ProductNotFound(f"no product {product_id}")
    record_decision(client, config, product_id, body.kind, body.value, body.decision, by)
    store_predictions(client, alias, embedder.backend, [product_id])
    source = client.get(index=alias, id=product_id, _source_includes=["category", "tags", *PREDICTED_FIELDS])["_source"]
    return predictions_shown(client, alias, product_id, source, embedder.text)


def _count(client: OpenSearch, index: str) -> int | None:
    if not client.indices.exists(index=index):
        return None
    return int(client.count(index=index)["count"])
