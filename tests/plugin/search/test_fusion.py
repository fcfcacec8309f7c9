"""Fusing ranked lists: both methods, checked by hand."""

from __future__ import annotations

import pytest

from plugin.search.fusion import RRF_K, SignalHit, fuse


def hits(*pairs: tuple[str, float]) -> list[SignalHit]:
    return [SignalHit(pid, score) for pid, score in pairs]


def test_reciprocal_rank_fusion_rewards_agreement_between_signals() -> None:
    ranked = {"image": hits(("a", 0.9), ("b", 0.8), ("c", 0.1)), "keywords": hits(("b", 12.0), ("d", 3.0))}

    fused = fuse(ranked, {"image": 1.0, "keywords": 1.0})

    assert [h.product_id for h in fused] == ["b", "a", "d", "c"]
    assert fused[0].score == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fused[0].signals["keywords"]["rank"] == 1 and fused[0].signals["image"]["rank"] == 2


def test_weighted_fusion_normalises_each_signal_to_0_1() -> None:
    ranked = {"image": hits(("a", 0.9), ("b", 0.5), ("c", 0.1)), "keywords": hits(("c", 20.0), ("a", 10.0))}

    fused = fuse(ranked, {"image": 2.0, "keywords": 1.0}, method="weighted")

    scores = {h.product_id: h.score for h in fused}
    assert scores == pytest.approx({"a": 2.0, "b": 1.0, "c": 1.0})
    assert [h.product_id for h in fused] == ["a", "b", "c"]  # ties broken by id, so pages are stable


def test_a_zero_weight_turns_a_signal_off_and_an_unknown_method_is_refused() -> None:
    ranked = {"image": hits(("a", 0.9)), "keywords": hits(("b", 5.0))}

    assert [h.product_id for h in fuse(ranked, {"image": 1.0, "keywords": 0.0})] == ["a"]
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse(ranked, {"image": 1.0}, method="max")
