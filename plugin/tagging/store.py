"""Predicted categories and tags stored on the products, apart from the shop's own, so that
searches can filter and count by them.

After each ingest run the products it changed are predicted again, with the products nearest
to them, whose vote they may have changed (:func:`near_products`); ``lookalike tags predict``
without ids predicts the whole catalogue. Each product gets:

* ``predicted_category``: the category most of its neighbours' vote went to, when that is at
  least :data:`STORED_SHARE` of the vote;
* ``predicted_tags``: the tags that reached :data:`~plugin.tagging.vote.TAG_SHARE`;
* ``predicted``: the shares of the likeliest categories and of those tags, the decisions, and
  when; not indexed, shown by the admin page.

A merchandiser's decisions (:mod:`plugin.opensearch.tag_reviews`) are applied on top: an
accepted value is stored with confidence 1 whatever the vote, a rejected one never, and a
rejected category's share of the vote is shared out among the others in proportion, so the
next category takes its place. Only product indices of mapping version 5 or later, holding
vectors of the model that predicts, get these fields; others are left as they are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from opensearchpy import OpenSearch, helpers

import mappings
from plugin.errors import EngineBusy
from plugin.models.base import EmbeddingBackend
from plugin.opensearch.documents import PREDICTED_FIELDS, describe_model, same_model
from plugin.opensearch.indices import index_model, indices_behind
from plugin.opensearch.tag_reviews import Review, reviews_of
from plugin.tagging.predict import DEFAULT_SIGNAL, predict_products
from plugin.tagging.vote import NEIGHBOURS, Prediction

#: The share of the vote a category needs to be stored as the product's predicted category
#: (the admin page shows a smaller share as a suggestion all the same).
STORED_SHARE = 0.5
log = logging.getLogger(__name__)
#: Products predicted per batch: one text-model call and one multi-search each.
BATCH = 64


@dataclasses.dataclass(frozen=True)
class StoreResult:
    """How many products got predictions, and why none did when the index has no room for them."""

    predicted: int = 0
    #: Products whose prediction was already stored as it is now: not written again.
    unchanged: int = 0
    skipped: str | None = None


def stored_fields(prediction: Prediction, review: Review | None = None) -> dict[str, Any]:
    """The fields written onto a product for *prediction*, after the merchandiser's *review*."""
    review = review or Review()
    kept = [(name, share) for name, share in prediction.categories if name not in review.rejected_categories]
    voted, left = sum(share for _, share in prediction.categories), sum(share for _, share in kept)
    shares = [(name, share * voted / left) for name, share in kept] if left > 0 else []
    if review.accepted_category:
        category: str | None = review.accepted_category
        confidence = 1.0
    elif shares:
        category, confidence = shares[0]
    else:
        category, confidence = None, 0.0
    tags = {tag: share for tag, share in prediction.tags if tag not in review.rejected_tags} | dict.fromkeys(review.accepted_tags, 1.0)
    ranked = sorted(tags.items(), key=lambda item: (-item[1], item[0]))
    return {
        # Judged on the share as stored, so that a stored prediction says why it was stored.
        "predicted_category": category if category and round(confidence, 3) >= STORED_SHARE else None,
        "predicted_tags": [tag for tag, _ in ranked],
        "predicted": {
            "category": category,
            "confidence": round(confidence, 3),
            "categories": [{"category": name, "confidence": round(share, 3)} for name, share in shares[:5]],
            "tags": [{"tag": tag, "confidence": round(share, 3)} for tag, share in ranked],
            "accepted_category": review.accepted_category,
            "accepted_tags": list(review.accepted_tags),
            "rejected_categories": list(review.rejected_categories),
            "rejected_tags": list(review.rejected_tags),
            "at": dt.datetime.now(dt.timezone.utc).isoformat(),
        },
    }


def store_predictions(
    client: OpenSearch,
    alias: str,
    backend: EmbeddingBackend,
    product_ids: Sequence[str] | None = None,
    *,
    index: str | None = None,
) -> StoreResult:
    """Predict *product_ids* (every product when None) in the index behind *alias* (or *index*),
    their words embedded by *backend*, and store the predictions."""
    behind = [index] if index else indices_behind(client, alias)
    if not behind:
        return StoreResult(skipped=f"no index behind {alias}")
    target = behind[0]
    meta = index_model(client, target)
    version = int(meta.get("mapping_version", 0))
    if version < mappings.PREDICTIONS_VERSION:
        return StoreResult(
            skipped=f"the index {target} has mapping v{version}, which has no room for predictions; re-ingest with lookalike ingest --new-index"
        )
    if not same_model(meta, backend.spec):
        # Vectors of two models are not comparable: every neighbour would be a wrong one.
        return StoreResult(skipped=f"the index {target} holds vectors of {describe_model(meta)}, not of {backend.spec.name} v{backend.spec.version}")
    embed_texts = backend.embed_texts
    predicted = unchanged = 0
    for batch in _batches(client, target, product_ids):
        predictions = predict_products(client, target, batch, embed_texts, DEFAULT_SIGNAL)
        reviews = reviews_of(client, alias, predictions)
        docs = client.mget(index=target, body={"ids": list(predictions)}, _source_includes=list(PREDICTED_FIELDS))["docs"]
        before = {doc["_id"]: doc["_source"] for doc in docs if doc.get("found")}
        fields = {pid: stored_fields(prediction, reviews.get(pid)) for pid, prediction in predictions.items()}
        # A prediction that has not changed is not written again: a rewrite costs the index a
        # deleted document to merge away, and would make every neighbour of a change look changed.
        same = {pid for pid, new in fields.items() if _without_time(before.get(pid)) == _without_time(new)}
        unchanged += len(same)
        actions = [
            {"_op_type": "update", "_index": target, "_id": pid, "retry_on_conflict": 3, "doc": new}
            for pid, new in fields.items() if pid not in same
        ]
        # A write refused because the cluster is busy (429) is tried again, as ingest's are.
        _, errors = helpers.bulk(client, actions, raise_on_error=False, max_retries=3, initial_backoff=1)
        for error in errors:
            item = next(iter(error.values()))
            if item.get("status") != 404:  # a product deleted since it was read is simply not predicted
                log.warning("the prediction for %s was not stored: %s", item.get("_id"), item.get("error"))
        predicted += len(actions) - len(errors)
    client.indices.refresh(index=target)
    return StoreResult(predicted=predicted, unchanged=unchanged)


def _without_time(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    """*fields* (the stored prediction's) without the time of the prediction, to compare two."""
    if not fields or "predicted" not in fields:
        return None
    return {name: fields.get(name) for name in PREDICTED_FIELDS} | {"predicted": {k: v for k, v in fields["predicted"].items() if k != "at"}}


def near_products(client: OpenSearch, alias: str, product_ids: Sequence[str], k: int = NEIGHBOURS) -> list[str]:
    """*product_ids* and the *k* products nearest to each by words: those whose vote a change to
    *product_ids* is likeliest to have moved (nearness is nearly symmetric)."""
    out = dict.fromkeys(product_ids)
    for start in range(0, len(product_ids), BATCH):
        docs = client.mget(index=alias, body={"ids": list(product_ids[start : start + BATCH])}, _source_includes=["text_vector"])["docs"]
        vectors = [doc["_source"]["text_vector"] for doc in docs if doc.get("found") and doc["_source"].get("text_vector")]
        body: list[dict[str, Any]] = []
        for vector in vectors:
            body += [{"index": alias}, {"size": k, "_source": False, "query": {"knn": {"text_vector": {"vector": vector, "k": k}}}}]
        for response in client.msearch(body=body)["responses"] if body else []:
            if "error" in response:
                raise EngineBusy(f"a search for the products near a changed one failed ({response.get('status')}); predict again shortly")
            out.update(dict.fromkeys(hit["_id"] for hit in response["hits"]["hits"]))
    return list(out)


def changed_since(client: OpenSearch, index: str, since: dt.datetime) -> list[str]:
    """The products of *index* written by ingest since *since* (their ``updated_at``)."""
    return _ids(client, index, {"range": {"updated_at": {"gte": since.isoformat()}}})


def every_product(client: OpenSearch, index: str) -> list[str]:
    """The ids of every product in *index*."""
    return _ids(client, index, {"match_all": {}})


def _ids(client: OpenSearch, index: str, query: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"size": 1000, "_source": False, "docvalue_fields": ["product_id"], "sort": [{"product_id": "asc"}], "query": query}
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=index, body=body)["hits"]["hits"]
        if not hits:
            return ids
        ids += [hit["_id"] for hit in hits]
        after = hits[-1]["sort"]


def _batches(client: OpenSearch, index: str, product_ids: Sequence[str] | None) -> Iterator[list[str]]:
    ids = list(dict.fromkeys(product_ids)) if product_ids is not None else every_product(client, index)
    yield from (ids[start : start + BATCH] for start in range(0, len(ids), BATCH))
