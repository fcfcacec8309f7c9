"""The ranking metrics, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from evaluation.metrics import (
    average_precision_at,
    hit_at,
    ndcg_at,
    precision_at,
    recall_at,
)

RANKED = ["a", "x", "b", "y", "c"]
RELEVANT = {"a": 1.0, "b": 1.0, "c": 1.0}


def test_hit_at_k_is_one_when_any_relevant_product_is_within_k() -> None:
    assert hit_at(RANKED, RELEVANT, 1) == 1.0
    assert hit_at(["x", "a"], RELEVANT, 1) == 0.0
    assert hit_at(["x", "a"], RELEVANT, 2) == 1.0


def test_recall_counts_only_as_many_relevant_products_as_fit_in_k() -> None:
    assert recall_at(RANKED, RELEVANT, 5) == 1.0
    assert recall_at(RANKED, RELEVANT, 2) == 0.5  # one of the two that could fit
    assert recall_at(RANKED, {}, 5) == 0.0


def test_precision_at_k() -> None:
    assert precision_at(RANKED, RELEVANT, 5) == pytest.approx(3 / 5)
    assert precision_at(RANKED, RELEVANT, 2) == pytest.approx(1 / 2)


def test_average_precision_by_hand() -> None:
    # relevant at ranks 1, 3, 5: (1/1 + 2/3 + 3/5) / 3
    assert average_precision_at(RANKED, RELEVANT, 5) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert average_precision_at(["x"], RELEVANT, 5) == 0.0


def test_ndcg_uses_graded_gains_and_the_ideal_order() -> None:
    graded = {"a": 1.0, "b": 2.0}
    dcg = (2**1 - 1) / math.log2(2) + (2**2 - 1) / math.log2(4)
    ideal = (2**2 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    assert ndcg_at(["a", "x", "b"], graded, 3) == pytest.approx(dcg / ideal)
    assert ndcg_at(["b", "a"], graded, 3) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], graded, 3) == 0.0
