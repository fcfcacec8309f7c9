"""Score fusion: several ranked lists (one per signal) become one ranking.

Both methods work on a fixed candidate window per signal, independent of the page asked
for, so the order of results is the same whatever the page size and page number.

* **Reciprocal rank fusion** (default): ``sum(weight / (k + rank))`` over the signals that
  found a product. It ignores raw scores, which are not comparable between BM25 and cosine.
* **Weighted sum of normalised scores**: each signal's scores are min-max normalised over its
  window to 0..1, then summed with the weights. A product a signal did not find gets 0 from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

RRF_K = 60


@dataclasses.dataclass(frozen=True)
class SignalHit:
    product_id: str
    score: float


@dataclasses.dataclass
class FusedHit:
    product_id: str
    score: float
    #: Per signal: its rank (1-based), raw score and contribution to ``score``.
    signals: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)


def fuse(ranked: Mapping[str, list[SignalHit]], weights: Mapping[str, float], method: str = "rrf") -> list[FusedHit]:
    """Combine the signals' ranked lists into one list, best first (ties broken by product id)."""
    if method not in ("rrf", "weighted"):
        raise ValueError(f"unknown fusion method {method!r}: use 'rrf' or 'weighted'")
    fused: dict[str, FusedHit] = {}
    for signal, hits in ranked.items():
        weight = weights.get(signal, 0.0)
        if weight <= 0 or not hits:
            continue
        scores = [hit.score for hit in hits]
        low, high = min(scores), max(scores)
        for rank, hit in enumerate(hits, start=1):
            if method == "rrf":
                contribution = weight / (RRF_K + rank)
            else:
                normalised = 1.0 if high == low else (hit.score - low) / (high - low)
                contribution = weight * normalised
            entry = fused.setdefault(hit.product_id, FusedHit(hit.product_id, 0.0))
            entry.score += contribution
            entry.signals[signal] = {"rank": rank, "score": hit.score, "contribution": contribution}
    return sorted(fused.values(), key=lambda h: (-h.score, h.product_id))
