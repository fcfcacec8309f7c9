"""A shop's judged queries: the file format, and an evaluation against a real index."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from evaluation.judged import evaluate_judged, read_judged
from evaluation.searchers import EvaluationFailed
from ingest import runner
from plugin.config import Config
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo


def write_judged(path: Path, rows: list[dict[str, object] | str]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_malformed_line_names_its_line_and_field(tmp_path: Path) -> None:
    judged = write_judged(tmp_path / "judged.jsonl", [{"query": "ok", "text": "red", "relevant": {"a": 1}}, {"query": "bad", "relevant": {"a": 1}}])
    with pytest.raises(EvaluationFailed, match=r"judged.jsonl:2: .*needs an image, a text, or both"):
        read_judged(judged)
    write_judged(judged, ['{"query": "q", "text": "x", "relevant": {}}'])
    with pytest.raises(EvaluationFailed, match=r":1: relevant"):
        read_judged(judged)


def test_judged_queries_are_evaluated_through_the_api_and_exactly(tmp_path: Path, config: Config, client: OpenSearch) -> None:
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    rows = [
        {"id": f"p{i}", "title": title, "images": [str(product_photo(image_dir / f"p{i}.jpg", seed=i, size=(320, 240)))]}
        for i, title in enumerate(["red kettle", "blue teapot", "green mug", "yellow jug"])
    ]
    catalogue = write_catalogue(tmp_path / "catalogue.jsonl", rows)
    config = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, local_roots=(image_dir,)))
    runner.run_catalogue(client, config, catalogue, eager=True)
    client.indices.refresh(index=config.index_alias)
    judged = write_judged(
        tmp_path / "judged.jsonl",
        [
            {"query": "photo of p2", "image": "images/p2.jpg", "relevant": {"p2": 2, "p1": 0}},
            {"query": "teapot", "text": "blue teapot", "relevant": {"p1": 1}},
            {"query": "filtered", "text": "green mug", "filters": {"price_min": 1000}, "relevant": {"p2": 1}},
        ],
    )
    figures = evaluate_judged(config, judged)
    # The photo finds its own product first; "blue teapot" finds p1; the price filter excludes everything.
    assert figures["served"]["recall_at_1"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["exact"]["recall_at_1"] == 1.0  # exact search applies no filter
    assert figures["catalogue"] == {"queries": 3, "alias": config.index_alias}
    assert set(figures["served"]) == {"precision_at_10", "recall_at_10", "map_at_100", "ndcg_at_10", "recall_at_1"}
    # Each signal alone over the same queries: the photo signal answers only the photo query.
    signals = figures["signals"]
    assert set(signals) == {"default", "photo", "keywords", "text_vector", "bridge"}
    assert signals["default"]["recall_at_1"] == figures["served"]["recall_at_1"]
    assert signals["photo"]["recall_at_1"] == pytest.approx(1 / 3, abs=1e-3)
    assert signals["keywords"]["recall_at_1"] == pytest.approx(1 / 3, abs=1e-3)  # "blue teapot"; the filter empties "green mug"
