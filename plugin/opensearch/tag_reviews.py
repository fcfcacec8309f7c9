"""A merchandiser's decisions on predicted categories and tags: which were accepted, which rejected.

Decisions live in an index of their own beside the products (``<alias>-tag-reviews``), one
document per product, not in the product documents: ingest rewrites a product whole when it
changes, and a rejected suggestion must stay rejected through every later prediction. Each
write waits for the index to refresh, so the product's next prediction already obeys it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from plugin.config import Config
from plugin.errors import EngineBusy
from plugin.opensearch.indices import ensure_index

Kind = Literal["category", "tag"]
Decision = Literal["accept", "reject", "undo"]


def review_index(alias: str) -> str:
    """The decisions on the predictions of the products behind *alias*."""
    return f"{alias}-tag-reviews"


@dataclasses.dataclass(frozen=True)
class Review:
    """What a merchandiser decided about one product's predictions."""

    accepted_category: str | None = None
    rejected_categories: tuple[str, ...] = ()
    accepted_tags: tuple[str, ...] = ()
    rejected_tags: tuple[str, ...] = ()

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> Review:
        return cls(
            accepted_category=source.get("accepted_category"),
            rejected_categories=tuple(source.get("rejected_categories") or ()),
            accepted_tags=tuple(source.get("accepted_tags") or ()),
            rejected_tags=tuple(source.get("rejected_tags") or ()),
        )

    def decided(self, kind: Kind, value: str, decision: Decision) -> Review:
        """This review with *decision* on the *kind* *value*: accepting a value withdraws its
        rejection and the other way round; ``undo`` withdraws either."""
        if kind == "category":
            accepted = self.accepted_category
            rejected = [c for c in self.rejected_categories if c != value]
            if accepted == value or decision == "accept":
                accepted = value if decision == "accept" else None
            if decision == "reject":
                rejected.append(value)
            return dataclasses.replace(self, accepted_category=accepted, rejected_categories=tuple(rejected))
        accepted_tags = [t for t in self.accepted_tags if t != value] + ([value] if decision == "accept" else [])
        rejected_tags = [t for t in self.rejected_tags if t != value] + ([value] if decision == "reject" else [])
        return dataclasses.replace(self, accepted_tags=tuple(accepted_tags), rejected_tags=tuple(rejected_tags))

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted_category": self.accepted_category,
            "rejected_categories": list(self.rejected_categories),
            "accepted_tags": list(self.accepted_tags),
            "rejected_tags": list(self.rejected_tags),
        }


def reviews_of(client: OpenSearch, alias: str, product_ids: Iterable[str]) -> dict[str, Review]:
    """The decisions on each of *product_ids* that has any."""
    ids = list(dict.fromkeys(product_ids))
    index = review_index(alias)
    if not ids or not client.indices.exists(index=index):
        return {}
    docs = client.mget(index=index, body={"ids": ids})["docs"]
    return {doc["_id"]: Review.from_source(doc["_source"]) for doc in docs if doc.get("found")}


def record_decision(client: OpenSearch, config: Config, product_id: str, kind: Kind, value: str, decision: Decision, by: str) -> Review:
    """Record *by*'s *decision* on *product_id*'s predicted *kind* *value*; return the product's review.

    The review is read and written back only if nobody wrote it in between (its sequence
    number), so two decisions taken at once both count.
    """
    index = review_index(config.index_alias)
    ensure_index(client, config, index, "tag_reviews")
    for _ in range(WRITE_ATTEMPTS):
        try:
            current = client.get(index=index, id=product_id)
        except NotFoundError:
            current = None
        review = (Review.from_source(current["_source"]) if current else Review()).decided(kind, value, decision)
        document = review.as_dict() | {"product_id": product_id, "by": by, "at": dt.datetime.now(dt.timezone.utc).isoformat()}
        guard: dict[str, Any] = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]} if current else {"op_type": "create"}
        try:
            client.index(index=index, id=product_id, body=document, refresh="wait_for", **guard)
            return review
        except ConflictError:
            continue
    raise EngineBusy(f"the decisions on {product_id} kept changing while this one was recorded; try again")


#: Reads and writes of a product's review before a decision taken at the same moment as others gives up.
WRITE_ATTEMPTS = 5
