"""The quarantine: catalogue rows, images and products that could not be ingested, with why.

Stored in an OpenSearch index next to the products, so the command line and the admin
views of every API node see the same list. A record's id is derived from what failed, so
failing again updates the record (attempts, last_seen) instead of adding a duplicate, and a
product that later succeeds has its records removed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from opensearchpy import OpenSearch, helpers

from plugin.config import Config
from plugin.errors import QuarantineWriteFailed
from plugin.opensearch.indices import ensure_index


@dataclasses.dataclass(frozen=True)
class QuarantineRecord:
    #: ``row`` (the catalogue line itself is malformed), ``image`` (one image of an indexed
    #: product failed) or ``product`` (no image of the product could be used).
    kind: str
    reason: str
    message: str
    catalogue: str = ""
    line: int | None = None
    product_id: str | None = None
    source: str | None = None
    retryable: bool = False
    attempts: int = 1
    #: The product as validated, so that ``--retry-failed`` can ingest it again.
    product: dict[str, Any] | None = None
    raw: str | None = None

    @property
    def record_id(self) -> str:
        if self.kind == "row":
            key = f"row|{self.catalogue}|{self.line}"
        else:
            key = f"{self.kind}|{self.product_id}|{self.source or ''}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def ensure_quarantine(client: OpenSearch, config: Config) -> None:
    ensure_index(client, config, config.quarantine_index, "quarantine")


def quarantine_actions(config: Config, records: Iterable[QuarantineRecord]) -> list[dict[str, Any]]:
    """Bulk upserts for *records*: new ones are inserted, known ones get a new ``last_seen`` and message."""
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    actions = []
    for record in records:
        document = {k: v for k, v in dataclasses.asdict(record).items() if v is not None}
        for field in ("source", "message", "raw"):  # a 40 kB data: URL must not make the record unwritable
            if isinstance(document.get(field), str):
                document[field] = document[field][:4000]
        document.update(last_seen=now)
        actions.append(
            {
                "_op_type": "update",
                "_index": config.quarantine_index,
                "_id": record.record_id,
                "doc": document,
                "upsert": {**document, "first_seen": now},
                "retry_on_conflict": 3,
            }
        )
    return actions


def clear_products(client: OpenSearch, config: Config, product_ids: Iterable[str]) -> None:
    """Remove the image and product records of products that have now been ingested."""
    ids = sorted(set(product_ids))
    if not ids or not client.indices.exists(index=config.quarantine_index):
        return
    query = {"query": {"bool": {"filter": [{"terms": {"product_id": ids}}, {"terms": {"kind": ["image", "product"]}}]}}}
    # Records are written with refresh=true, so a count sees them; most batches have none to clear.
    if client.count(index=config.quarantine_index, body=query)["count"]:
        client.delete_by_query(
            index=config.quarantine_index,
            body=query,
            refresh=True,
            conflicts="proceed",
        )


def list_records(client: OpenSearch, config: Config, size: int | None = 1000) -> list[dict[str, Any]]:
    """Quarantined items, newest first; all of them when *size* is None."""
    if not client.indices.exists(index=config.quarantine_index):
        return []
    client.indices.refresh(index=config.quarantine_index)
    if size is None:
        hits = helpers.scan(client, index=config.quarantine_index, query={"query": {"match_all": {}}})
        records = [hit["_source"] | {"id": hit["_id"]} for hit in hits]
        return sorted(records, key=lambda r: r.get("last_seen", ""), reverse=True)
    response = client.search(
        index=config.quarantine_index,
        body={"size": size, "sort": [{"last_seen": "desc"}], "query": {"match_all": {}}},
    )
    return [hit["_source"] | {"id": hit["_id"]} for hit in response["hits"]["hits"]]


def write_records(client: OpenSearch, config: Config, records: list[QuarantineRecord]) -> None:
    if records:
        ensure_quarantine(client, config)
        _, errors = helpers.bulk(client, quarantine_actions(config, records), refresh=True, raise_on_error=False)
        if errors:
            raise QuarantineWriteFailed(f"{len(errors)} quarantine records could not be written: {str(errors[0])[:500]}")
