"""Fusing ranked lists: each method, checked by hand."""

from __future__ import annotations

import pytest

from plugin.search.fusion import RRF_K, FusionParams, SignalHit, fuse


def hits(*pairs: tuple[str, float]) -> list[SignalHit]:
    return [SignalHit(pid, score) for pid, score in pairs]


def test_reciprocal_rank_fusion_rewards_agreement_between_signals() -> None:
    ranked = {"image": hits(("a", 0.9), ("b", 0.8), ("c", 0.1)), "keywords": hits(("b", 12.0), ("d", 3.0))}

    fused = fuse(ranked, {"image": 1.0, "keywords": 1.0}, method="rrf")

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


def test_adaptive_fusion_lets_a_clear_winner_beat_a_weak_signals_first_place() -> None:
    # "Vintage Folding Camera": keywords and the text vector both find it clearly first; the
    # bridge sees only "a camera" and ranks another camera a hair higher. RRF hands the
    # bridge's first place as much as a clear win; adaptive fusion follows the score gaps.
    ranked = {
        "keywords": [SignalHit("folding", 44.5, 1.0), SignalHit("instant", 12.7, 1 / 3), SignalHit("lens", 12.7, 1 / 3)],
        "text": hits(("folding", 0.95), ("instant", 0.80), ("lens", 0.75), ("tripod", 0.60)),
        "text_image": hits(("instant", 0.61), ("lens", 0.60), ("tripod", 0.60), ("folding", 0.59), ("mug", 0.40)),
    }
    weights = {"keywords": 1.0, "text": 1.0, "text_image": 1.0}

    assert fuse(ranked, weights, method="rrf")[0].product_id == "instant"
    assert [h.product_id for h in fuse(ranked, weights)[:3]] == ["folding", "instant", "lens"]


def test_keyword_votes_scale_with_the_best_score_and_the_share_of_words_matched() -> None:
    ranked = {"keywords": [SignalHit("all-words", 10.0, 1.0), SignalHit("one-word", 8.0, 0.5)]}

    fused = {h.product_id: h.score for h in fuse(ranked, {"keywords": 2.0})}
    squared = {h.product_id: h.score for h in fuse(ranked, {"keywords": 2.0}, params=FusionParams(coverage_power=2.0))}

    assert fused == pytest.approx({"all-words": 2.0, "one-word": 2.0 * 0.8 * 0.5})
    assert squared["one-word"] == pytest.approx(2.0 * 0.8 * 0.25)


def test_the_bridge_votes_only_as_far_as_the_words_name_what_the_image_model_knows() -> None:
    params = FusionParams(bridge_floor=0.5, bridge_full=0.8)
    assert params.bridge_confidence(0.4) == 0.0
    assert params.bridge_confidence(0.65) == pytest.approx(0.5)
    assert params.bridge_confidence(0.95) == 1.0
    assert params.bridge_confidence(None) == 1.0  # a model with one space for texts and images
    ranked = {"text": hits(("a", 0.9), ("b", 0.1)), "text_image": hits(("b", 0.9), ("a", 0.1))}

    silent = fuse(ranked, {"text": 1.0, "text_image": 5.0}, params=params, confidence={"text_image": 0.0})
    trusted = fuse(ranked, {"text": 1.0, "text_image": 5.0}, params=params, confidence={"text_image": 1.0})

    assert [h.product_id for h in silent] == ["a", "b"] and "text_image" not in silent[0].signals
    assert [h.product_id for h in trusted] == ["b", "a"]


def test_a_signal_alone_ranks_by_its_own_scores_whatever_its_confidence() -> None:
    ranked = {"text_image": hits(("b", 0.9), ("a", 0.1)), "keywords": []}

    alone = fuse(ranked, {"text_image": 1.0, "keywords": 1.0}, confidence={"text_image": 0.0})

    assert [h.product_id for h in alone] == ["b", "a"]


def test_the_bridge_bounds_must_be_in_order() -> None:
    with pytest.raises(ValueError, match="bridge_floor must be below bridge_full"):
        FusionParams(bridge_floor=0.7, bridge_full=0.6)
