"""Ranking metrics over one query's ranked product ids and its judged relevant ids.

``relevant`` maps product id to a grade (1 when relevance is yes/no). The functions take one
query; a report averages them over queries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def hit_at(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """1 when any relevant product is among the first *k*: "recall@k" as instance retrieval reports it."""
    return float(any(product in relevant for product in ranked[:k]))


def recall_at(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """The share of the relevant products found in the first *k*, out of as many as could fit."""
    if not relevant:
        return 0.0
    found = sum(1 for product in ranked[:k] if product in relevant)
    return found / min(k, len(relevant))


def precision_at(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    return sum(1 for product in ranked[:k] if product in relevant) / k


def average_precision_at(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """AP@k, normalised by the number of relevant products that fit in *k* (as mAP@100 is usually reported)."""
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for rank, product in enumerate(ranked[:k], start=1):
        if product in relevant:
            found += 1
            total += found / rank
    return total / min(k, len(relevant))


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """nDCG@k with gain ``2**grade - 1``, so graded judgements count by grade."""
    gains = [(2 ** relevant.get(product, 0.0) - 1) / math.log2(rank + 1) for rank, product in enumerate(ranked[:k], start=1)]
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum((2**grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))
    return sum(gains) / best if best > 0 else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, float]) -> float:
    """1 / the rank of the first relevant product (0 when none is ranked): MRR, averaged over queries."""
    for rank, product in enumerate(ranked, start=1):
        if product in relevant:
            return 1.0 / rank
    return 0.0
