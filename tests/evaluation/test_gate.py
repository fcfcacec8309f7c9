"""The quality gate: a drop below the committed reference figures fails ``make test``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from evaluation.gate import compare, gated_figures, run_gate
from plugin.config import Config

REFERENCE = Path(__file__).resolve().parents[2] / "reports" / "eval-gate.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def test_search_quality_holds_against_the_committed_reference(base_config: Config, reference: dict[str, Any]) -> None:
    """The whole gate: the Vendure robustness table, small Fashion-MNIST retrieval and the scenes, measured now."""
    drops = compare(run_gate(base_config), reference)
    assert not drops, "search quality fell:\n" + "\n".join(map(str, drops))


def test_a_drop_beyond_the_tolerance_is_caught(reference: dict[str, Any]) -> None:
    worse = copy.deepcopy(reference)
    worse["vendure"]["recall_at_1"]["occlude_40"] -= 2 / 54  # two queries of 54 lost
    worse["fashion"]["served"]["map_at_100"] -= 0.02
    names = {drop.figure for drop in compare(worse, reference)}
    assert names == {"vendure.recall_at_1.occlude_40", "fashion.served.map_at_100"}


def test_noise_within_the_tolerance_passes(reference: dict[str, Any]) -> None:
    noisy = copy.deepcopy(reference)
    noisy["vendure"]["recall_at_1"]["occlude_40"] -= 1 / 54  # one query of 54
    noisy["fashion"]["served"]["map_at_100"] -= 0.005
    assert compare(noisy, reference) == []


def test_a_figure_missing_from_the_measurement_counts_as_a_drop(reference: dict[str, Any]) -> None:
    fewer = copy.deepcopy(reference)
    del fewer["vendure"]["recall_at_1"]["rotate_90"]
    assert [drop.figure for drop in compare(fewer, reference)] == ["vendure.recall_at_1.rotate_90"]


def test_the_reference_gates_every_degradation_and_metric(reference: dict[str, Any]) -> None:
    names = set(gated_figures(reference))
    assert {f"vendure.recall_at_1.{name}" for name in reference["vendure"]["recall_at_1"]} <= names
    assert {"fashion.served.precision_at_10", "fashion.served.map_at_100", "fashion.served.ndcg_at_10"} <= names


def test_a_default_below_its_best_single_signal_fails_the_gate(reference: dict[str, Any]) -> None:
    weak = copy.deepcopy(reference)
    title = weak["vendure"]["text"]["title"]
    title["keywords"]["recall_at_1"] = title["default"]["recall_at_1"] + 0.02  # a signal alone beats the fused default
    names = [drop.figure for drop in compare(weak, reference)]
    assert names == ["vendure.text.title.default.recall_at_1 (best alone: keywords)"]


def test_the_reference_gates_the_text_and_hybrid_queries(reference: dict[str, Any]) -> None:
    names = set(gated_figures(reference))
    for kind in ("title", "category", "photo_and_words"):
        assert {f"vendure.text.{kind}.default.{metric}" for metric in ("recall_at_1", "recall_at_5", "mrr", "ndcg_at_10")} <= names
    assert "fashion.text.default.precision_at_10" in names


def test_the_reference_gates_the_scenes_with_detect_off_and_auto(reference: dict[str, Any]) -> None:
    names = set(gated_figures(reference))
    for mode in ("off", "auto"):
        assert {f"scenes.{mode}.{metric}" for metric in ("largest_recall_at_1", "largest_recall_at_5", "each_recall_at_5")} <= names


def test_auto_finding_less_than_the_whole_photo_fails_the_gate(reference: dict[str, Any]) -> None:
    worse = copy.deepcopy(reference)
    modes = worse["scenes"]["modes"]
    modes["auto"]["largest_recall_at_1"] = modes["off"]["largest_recall_at_1"] - 0.01
    names = [drop.figure for drop in compare(worse, worse)]
    assert names == ["scenes.auto.largest_recall_at_1 (below detect off)"]
