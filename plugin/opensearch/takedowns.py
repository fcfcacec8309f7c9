"""Takedowns: images an operator marked as infringing, and the audit log of every takedown and undo.

A takedown withholds its product from every search at once, and a takedown's undo restores it;
nothing is deleted, so the product and its photos return exactly as they were. Takedowns live
in an index of their own beside the products (``<alias>-takedowns``), not in the product
documents, because ingest rewrites a product's document whole whenever the product changes.
Each write waits for the index to refresh, so the next search already sees it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from plugin.config import Config
from plugin.errors import (
    ImageNotInProduct,
    ProductNotFound,
    ProductTakenDown,
    TakedownNotFound,
)
from plugin.opensearch.indices import ensure_index

#: Active takedowns read per search: far more than a shop marks, few enough to read in one request.
MOST_ACTIVE = 10_000
log = logging.getLogger(__name__)


def takedown_index(alias: str) -> str:
    """The takedowns of the products behind *alias*."""
    return f"{alias}-takedowns"


def take_down(
    client: OpenSearch, config: Config, product_id: str, image: str, reason: str, by: str
) -> dict[str, Any]:
    """Mark *product_id*'s photo *image* (its URL or fingerprint) as infringing, and log it.

    Raises :class:`ProductNotFound` or :class:`ImageNotInProduct` when there is no such product or
    photo. Marking a marked photo again keeps one takedown, with the new reason.
    """
    index = takedown_index(config.index_alias)
    ensure_index(client, config, index, "takedowns")
    photo = _photo(client, config.index_alias, product_id, image)
    takedown_id = hashlib.sha256(f"{product_id}\n{photo['fingerprint']}".encode()).hexdigest()[:32]
    record = {
        "kind": "takedown",
        "takedown_id": takedown_id,
        "active": True,
        "product_id": product_id,
        "image_url": photo["url"],
        "image_fingerprint": photo["fingerprint"],
        "reason": reason,
        "by": by,
        "at": _now(),
    }
    client.index(index=index, id=takedown_id, body=record, refresh="wait_for")
    _log(client, index, "takedown", record, reason, by)
    return record


def restore(client: OpenSearch, config: Config, takedown_id: str, reason: str, by: str) -> dict[str, Any]:
    """Undo an active takedown, and log it; raises :class:`TakedownNotFound` when none is active."""
    index = takedown_index(config.index_alias)
    try:
        found = client.get(index=index, id=takedown_id)
    except NotFoundError:
        found = None
    if found is None or found["_source"].get("kind") != "takedown" or not found["_source"].get("active"):
        raise TakedownNotFound(f"no active takedown {takedown_id}")
    record = found["_source"] | {"active": False}
    # The version read makes a second undo racing this one fail instead of logging twice.
    try:
        client.index(index=index, id=takedown_id, body=record, refresh="wait_for", if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
    except ConflictError:
        raise TakedownNotFound(f"takedown {takedown_id} was undone by someone else just now") from None
    _log(client, index, "restore", record, reason, by)
    return record | {"restored_by": by, "restore_reason": reason}


def active_takedowns(client: OpenSearch, alias: str) -> list[dict[str, Any]]:
    """Every active takedown of *alias*'s products, newest first; none when nothing was ever taken down."""
    body = {"size": MOST_ACTIVE, "query": _active(), "sort": [{"at": "desc"}]}
    try:
        return [hit["_source"] for hit in client.search(index=takedown_index(alias), body=body)["hits"]["hits"]]
    except NotFoundError:
        return []


def withheld_products(client: OpenSearch, alias: str) -> frozenset[str]:
    """The products no search may return: those with an active takedown."""
    body = {"size": MOST_ACTIVE, "_source": ["product_id"], "query": _active()}
    try:
        hits = client.search(index=takedown_index(alias), body=body)["hits"]["hits"]
    except NotFoundError:
        return frozenset()
    if len(hits) >= MOST_ACTIVE:
        log.warning("%d or more active takedowns: only %d products are withheld from search", MOST_ACTIVE, MOST_ACTIVE)
    return frozenset(hit["_source"]["product_id"] for hit in hits)


def check_not_withheld(client: OpenSearch, alias: str, product_id: str) -> None:
    """Raise :class:`ProductTakenDown` when *product_id* has an active takedown."""
    if _any_active(client, alias, {"term": {"product_id": product_id}}):
        raise ProductTakenDown(f"product {product_id} is withheld: one of its photos was taken down as infringing")


def image_taken_down(client: OpenSearch, alias: str, fingerprint: str) -> bool:
    """Whether the photo with *fingerprint* has an active takedown (its thumbnail is then not served)."""
    return _any_active(client, alias, {"term": {"image_fingerprint": fingerprint}})


def _active(*more: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"filter": [{"term": {"kind": "takedown"}}, {"term": {"active": True}}, *more]}}


def _any_active(client: OpenSearch, alias: str, clause: dict[str, Any]) -> bool:
    try:
        return client.count(index=takedown_index(alias), body={"query": _active(clause)})["count"] > 0
    except NotFoundError:
        return False


def audit_log(client: OpenSearch, alias: str, size: int = 200) -> list[dict[str, Any]]:
    """The latest *size* takedowns and undos, newest first."""
    body = {"size": size, "query": {"term": {"kind": "event"}}, "sort": [{"at": "desc"}]}
    try:
        return [hit["_source"] for hit in client.search(index=takedown_index(alias), body=body)["hits"]["hits"]]
    except NotFoundError:
        return []


def _photo(client: OpenSearch, alias: str, product_id: str, image: str) -> dict[str, str]:
    try:
        source = client.get(index=alias, id=product_id, _source_includes=["images.url", "images.fingerprint"])["_source"]
    except NotFoundError:
        raise ProductNotFound(f"no product {product_id}") from None
    for photo in source.get("images", []):
        if image in (photo.get("url"), photo.get("fingerprint")):
            return {"url": photo.get("url", ""), "fingerprint": photo.get("fingerprint", "")}
    raise ImageNotInProduct(f"product {product_id} has no photo {image!r}; name one of its image URLs or fingerprints")


def _log(client: OpenSearch, index: str, action: str, record: dict[str, Any], reason: str, by: str) -> None:
    event = {key: record[key] for key in ("takedown_id", "product_id", "image_url", "image_fingerprint")}
    client.index(index=index, body={"kind": "event", "action": action, **event, "reason": reason, "by": by, "at": _now()}, refresh="wait_for")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()
