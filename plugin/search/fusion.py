"""Score fusion: several ranked lists (one per signal) become one ranking.

Every method works on a fixed candidate window per signal, independent of the page asked
for, so the order of results is the same whatever the page size and page number.

* **Adaptive** (default): each signal's scores are normalised over its own candidates, and
  the signal votes with its weight times its confidence for this query. Vector scores are
  min-max normalised, so a signal's vote follows its score gaps: a text that names a whole
  class of products gives them all nearly the same vote, and the signal that can tell them
  apart decides. Keyword scores are divided by the best one and multiplied by the share of
  the query's words the product matched, so a product matching one word of three gets a
  third of the vote. The text-to-image bridge is only as confident as the words name
  something the image model knows (:meth:`FusionParams.bridge_confidence`).
* **Reciprocal rank fusion**: ``sum(weight / (k + rank))`` over the signals that found a
  product. It ignores scores, so a weak signal's first place outvotes a strong signal's
  clear winner; kept for comparison and for shops that prefer it.
* **Weighted sum of normalised scores**: each signal min-max normalised over its window,
  summed with the weights, without the confidences above.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

RRF_K = 60
#: The adaptive vote of a signal's lowest candidate: found, so more than a product it did not find.
FOUND = 0.01
METHODS = ("adaptive", "rrf", "weighted")


class FusionParams(BaseModel):
    """The adaptive method's parameters (what ``lookalike tune`` may change beside the weights)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _floor_below_full(self) -> FusionParams:
        if self.bridge_floor >= self.bridge_full:
            raise ValueError("bridge_floor must be below bridge_full")
        return self

    #: Similarity of the words to the nearest thing the image model knows below which the
    #: bridge stays silent, and from which it votes with its whole weight.
    bridge_floor: float = Field(default=0.5, ge=-1, le=1)
    bridge_full: float = Field(default=0.8, ge=-1, le=1)
    #: A keyword hit's vote is scaled by (share of the query's words it matched) to this power.
    coverage_power: float = Field(default=1.0, ge=0, le=4)

    def bridge_confidence(self, similarity: float | None) -> float:
        if similarity is None:
            return 1.0
        return min(1.0, max(0.0, (similarity - self.bridge_floor) / (self.bridge_full - self.bridge_floor)))


DEFAULT_PARAMS = FusionParams()


@dataclasses.dataclass(frozen=True)
class SignalHit:
    product_id: str
    score: float
    #: The share of the query's words this product matched (keywords only).
    coverage: float = 1.0


@dataclasses.dataclass
class FusedHit:
    product_id: str
    score: float
    #: Per signal: its rank (1-based), raw score and contribution to ``score``.
    signals: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)


def fuse(
    ranked: Mapping[str, list[SignalHit]],
    weights: Mapping[str, float],
    method: str = "adaptive",
    params: FusionParams = DEFAULT_PARAMS,
    confidence: Mapping[str, float] | None = None,
) -> list[FusedHit]:
    """Combine the signals' ranked lists into one list, best first (ties broken by product id).

    *confidence* scales each signal's weight for this query (adaptive method only; 1 when absent).
    """
    if method not in METHODS:
        raise ValueError(f"unknown fusion method {method!r}: use one of {', '.join(METHODS)}")
    fused: dict[str, FusedHit] = {}
    voting = [signal for signal, hits in ranked.items() if hits and weights.get(signal, 0.0) > 0]
    for signal, hits in ranked.items():
        weight = weights.get(signal, 0.0)
        # Confidence weighs a signal against the others; alone, it ranks by its own scores whatever they are worth.
        if method == "adaptive" and len(voting) > 1:
            weight *= (confidence or {}).get(signal, 1.0)
        if weight <= 0 or not hits:
            continue
        for rank, (hit, normalised) in enumerate(zip(hits, _normalised(signal, hits, method, params)), start=1):
            contribution = weight / (RRF_K + rank) if method == "rrf" else weight * normalised
            entry = fused.setdefault(hit.product_id, FusedHit(hit.product_id, 0.0))
            entry.score += contribution
            entry.signals[signal] = {"rank": rank, "score": hit.score, "weight": weight, "contribution": contribution}
            if signal == "keywords":
                entry.signals[signal]["coverage"] = hit.coverage
    return sorted(fused.values(), key=lambda h: (-h.score, h.product_id))


def _normalised(signal: str, hits: list[SignalHit], method: str, params: FusionParams) -> list[float]:
    scores = [hit.score for hit in hits]
    if method == "adaptive" and signal == "keywords":
        best = max(scores)
        return [(hit.score / best if best > 0 else 0.0) * hit.coverage**params.coverage_power for hit in hits]
    low, high = min(scores), max(scores)
    spread = [1.0 if high == low else (score - low) / (high - low) for score in scores]
    return [FOUND + (1 - FOUND) * value for value in spread] if method == "adaptive" else spread
