"""Saved searches: a shopper's photo or words kept, and told when a new product matches them.

A saved search keeps its query's vectors (a photo's image vector, the words' text vector), not the
photo. When an ingest run has made products searchable, :func:`notify_matches` weighs each new or
changed product against every saved search, in memory (a shop keeps thousands of saved searches,
not millions), and writes a match for each one it clears; a shopper's page reads its matches with
:func:`matches_after`. Both live in indices of their own beside the products
(``<alias>-saved-searches`` and ``<alias>-saved-matches``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import NotFoundError

from plugin.config import Config
from plugin.errors import SavedSearchLimit, SavedSearchNotFound
from plugin.models.registry import spec_for_model
from plugin.opensearch.indices import ensure_index
from plugin.opensearch.takedowns import withheld_products

#: The cosine a new product's photo must reach with a saved photo: the same or a very close product.
PHOTO_SIMILARITY = 0.85
#: The cosine a new product's text must reach with saved words; on the demo shop "running shoe"
#: scores 0.63 to 0.71 with its four running shoes and at most 0.48 with anything else.
TEXT_SIMILARITY = 0.5
#: Saved searches one shopper may keep.
MOST_PER_SHOPPER = 50
#: Products read at a time when a run's products are weighed.
_CHUNK = 200
#: A product written this long before the run began still counts as the run's: the workers' clocks
#: may be behind the runner's, and a product told of twice is written once (its match's id).
CLOCK_SKEW = dt.timedelta(seconds=60)


def saved_index(alias: str) -> str:
    return f"{alias}-saved-searches"


def matches_index(alias: str) -> str:
    return f"{alias}-saved-matches"


def save_search(
    client: OpenSearch,
    config: Config,
    shopper: str,
    text: str | None,
    image_vector: list[float] | None,
    text_vector: list[float] | None,
    min_similarity: float | None = None,
) -> dict[str, Any]:
    """Keep a shopper's search (its words, its photo's vector, or both) and return it without its vectors."""
    index = saved_index(config.index_alias)
    ensure_index(client, config, index, "saved_searches")
    ensure_index(client, config, matches_index(config.index_alias), "saved_matches")
    if client.count(index=index, body={"query": {"term": {"shopper": shopper}}})["count"] >= MOST_PER_SHOPPER:
        raise SavedSearchLimit(f"this shopper keeps {MOST_PER_SHOPPER} saved searches, as many as one may; delete one first")
    record = {
        "search_id": uuid.uuid4().hex,
        "shopper": shopper,
        "text": text,
        "photo": image_vector is not None,
        "min_similarity": min_similarity,
        "model": model_key(config),
        "created_at": _now().isoformat(),
    }
    body = record | {"image_vector": image_vector, "text_vector": text_vector}
    client.index(index=index, id=record["search_id"], body={k: v for k, v in body.items() if v is not None}, refresh="wait_for")
    return record


def shopper_searches(client: OpenSearch, alias: str, shopper: str) -> list[dict[str, Any]]:
    """A shopper's saved searches, newest first, without their vectors."""
    body = {"size": MOST_PER_SHOPPER, "query": {"term": {"shopper": shopper}}, "sort": [{"created_at": "desc"}], "_source": {"excludes": ["*_vector"]}}
    try:
        return [hit["_source"] for hit in client.search(index=saved_index(alias), body=body)["hits"]["hits"]]
    except NotFoundError:
        return []


def delete_search(client: OpenSearch, alias: str, shopper: str, search_id: str) -> None:
    """Forget a shopper's saved search and its matches; :class:`SavedSearchNotFound` when the shopper has none with *search_id*."""
    try:
        found = client.get(index=saved_index(alias), id=search_id, _source_includes=["shopper"])
    except NotFoundError:
        found = None
    if found is None or found["_source"].get("shopper") != shopper:
        raise SavedSearchNotFound(f"no saved search {search_id} for this shopper")
    client.delete(index=saved_index(alias), id=search_id, refresh="wait_for")
    client.delete_by_query(index=matches_index(alias), body={"query": {"term": {"search_id": search_id}}}, conflicts="proceed", refresh=True)


def notify_matches(client: OpenSearch, config: Config, product_ids: list[str], since: dt.datetime) -> int:
    """Weigh those of the products *product_ids* written at or after *since* (new or changed, not
    left as they were) against every saved search, and write a match for each pair that clears its
    threshold; returns how many were written. Nothing is read when no search is saved."""
    alias = config.index_alias
    try:
        if not product_ids or client.count(index=saved_index(alias))["count"] == 0:
            return 0
    except NotFoundError:
        return 0
    model = model_key(config)
    # A search saved under another model holds vectors of another space (perhaps another size).
    searches = [search for search in _all_searches(client, alias) if search.get("model") == model]
    withheld = withheld_products(client, alias)
    now = _now()
    seq = time.time_ns() // 1000  # microseconds: a page asks for matches after the last it saw
    actions = []
    for start in range(0, len(product_ids), _CHUNK):
        chunk = product_ids[start : start + _CHUNK]
        # Only the products this run wrote: the others' vectors are never read.
        query = {"bool": {"filter": [{"ids": {"values": chunk}}, {"range": {"updated_at": {"gte": (since - CLOCK_SKEW).isoformat()}}}]}}
        body = {"size": len(chunk), "query": query, "_source": ["title", "text_vector", "images.vector"]}
        for doc in client.search(index=alias, body=body)["hits"]["hits"]:
            if doc["_id"] in withheld:
                continue  # taken down as infringing: shown to no one
            for search, similarity in _matching(searches, doc["_source"]):
                seq += 1
                match = {
                    "seq": seq, "search_id": search["search_id"], "shopper": search["shopper"], "product_id": doc["_id"],
                    "title": doc["_source"].get("title", ""), "similarity": round(similarity, 4), "at": now.isoformat(),
                }
                # One match per search and product: a product changed twice is not news twice.
                # Hashed: a product id may take the 512 bytes a document id may have.
                match_id = hashlib.sha256(f"{search['search_id']}\n{doc['_id']}".encode()).hexdigest()[:40]
                actions.append({"_index": matches_index(alias), "_id": match_id, "_op_type": "create", "_source": match})
    if not actions:
        return 0
    written, _ = helpers.bulk(client, actions, raise_on_error=False, refresh="wait_for")
    return int(written)


def matches_after(client: OpenSearch, alias: str, shopper: str, after: int = 0, size: int = 50) -> list[dict[str, Any]]:
    """A shopper's matches written after *after* (a match's ``seq``), oldest first."""
    body = {
        "size": size,
        "query": {"bool": {"filter": [{"term": {"shopper": shopper}}, {"range": {"seq": {"gt": after}}}]}},
        "sort": [{"seq": "asc"}],
    }
    try:
        return [hit["_source"] for hit in client.search(index=matches_index(alias), body=body)["hits"]["hits"]]
    except NotFoundError:
        return []


def model_key(config: Config) -> str:
    """The embedding model a saved search's vectors belong to, as name and version."""
    spec = spec_for_model(config.model)
    return f"{spec.name}:{spec.version}"


def _all_searches(client: OpenSearch, alias: str) -> Iterator[dict[str, Any]]:
    for hit in helpers.scan(client, index=saved_index(alias), query={"query": {"match_all": {}}}, size=500):
        yield hit["_source"]


def _matching(searches: list[dict[str, Any]], product: dict[str, Any]) -> Iterator[tuple[dict[str, Any], float]]:
    """Each saved search *product* clears, with its similarity: a photo's to the nearest of the
    product's photos, words' to its text, both's to the lower of the two."""
    photos = np.asarray([image["vector"] for image in product.get("images", []) if image.get("vector")], np.float32)
    text = np.asarray(product["text_vector"], np.float32) if product.get("text_vector") else None
    for search in searches:
        scores = []
        if search.get("image_vector") is not None:
            if not len(photos):
                continue
            scores.append((float(np.max(photos @ np.asarray(search["image_vector"], np.float32))), PHOTO_SIMILARITY))
        if search.get("text_vector") is not None:
            if text is None:
                continue
            scores.append((float(text @ np.asarray(search["text_vector"], np.float32)), TEXT_SIMILARITY))
        if not scores:
            continue
        floor = search.get("min_similarity")
        if all(score >= (floor if floor is not None else default) for score, default in scores):
            yield search, min(score for score, _ in scores)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
