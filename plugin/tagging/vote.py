"""A product's category and tags, voted by the nearest products the shop has already tagged.

Each of the nearest tagged products votes for its category and each of its tags with a weight
that grows steeply with its similarity (``exp(similarity / TEMPERATURE)``), so a near copy
outvotes a crowd of loose matches. The share of the weight a category or tag gets is its
confidence; a tag is predicted when its share reaches :data:`TAG_SHARE`. Nothing is trained, so
the prediction follows the catalogue as it changes: a product tagged a moment ago votes at once.
``lookalike eval tagging`` measures this beside a logistic regression trained on the same
vectors and beside the majority class.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

#: Tagged products that vote.
NEIGHBOURS = 10
#: How steeply a closer neighbour's vote outweighs a farther one's (cosine units).
TEMPERATURE = 0.05
#: The share of the vote a tag needs to be predicted.
TAG_SHARE = 0.5


@dataclasses.dataclass(frozen=True)
class Neighbour:
    """A tagged product near the one predicted: how near, and what the shop gave it."""

    similarity: float
    category: str | None
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The category most of the vote went to and its share, and each tag that reached :data:`TAG_SHARE`."""

    category: str | None
    confidence: float
    tags: tuple[tuple[str, float], ...] = ()
    #: Every category voted for with its share, the largest first (the first is :attr:`category`).
    categories: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "confidence": round(self.confidence, 3),
            "tags": [{"tag": tag, "confidence": round(share, 3)} for tag, share in self.tags],
        }


def vote(neighbours: Sequence[Neighbour], tag_share: float = TAG_SHARE, temperature: float = TEMPERATURE) -> Prediction:
    """The prediction the *neighbours* vote for; no category when none of them has one."""
    if not neighbours:
        return Prediction(None, 0.0)
    top = max(n.similarity for n in neighbours)
    # Shifted by the best similarity so the exponent never overflows; shares are unchanged.
    weights = [math.exp((n.similarity - top) / temperature) for n in neighbours]
    total = sum(weights)
    categories: dict[str, float] = {}
    tags: dict[str, float] = {}
    for neighbour, weight in zip(neighbours, weights):
        if neighbour.category:
            categories[neighbour.category] = categories.get(neighbour.category, 0.0) + weight
        for tag in set(neighbour.tags):
            tags[tag] = tags.get(tag, 0.0) + weight
    ranked = sorted(((name, weight / total) for name, weight in categories.items()), key=lambda item: (item[1], item[0]), reverse=True)
    category, share = ranked[0] if ranked else (None, 0.0)
    voted = sorted(((tag, weight / total) for tag, weight in tags.items() if weight / total >= tag_share), key=lambda item: (-item[1], item[0]))
    return Prediction(category, share, tuple(voted), tuple(ranked))
