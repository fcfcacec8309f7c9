"""``tune``: settings fitted on half of a shop's judged queries must do better on the other half, or say they could not.

The shop here is hand-made so the right answer is known: each query's word appears in a
decoy's title, while the product the shop judged relevant only shares the query's meaning
(its text vector). The built-in defaults let the keyword match win; a fit on half of the
queries must learn to trust the text vector, and the held-out half must show it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch, helpers
from PIL import Image

from evaluation.searchers import EvaluationFailed
from evaluation.tuning import tune
from plugin.config import Config
from plugin.opensearch import indices
from plugin.search.query_vectors import QueryEmbedder
from plugin.search.ranking import DEFAULT_RANKING
from tests.support.models import TINY_SPEC, hand_made_document

QUERIES = 10


def meaning(i: int) -> list[float]:
    """Query i's meaning: ten directions 9 degrees apart, so each has one clear nearest product."""
    angle = math.radians(9 * i)
    return [math.cos(angle), math.sin(angle), 0.0]


class MeaningBackend:
    """Embeds each query word as its hand-made meaning; the bridge knows none of them."""

    spec = TINY_SPEC

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return np.asarray([meaning(int(text.removeprefix("word"))) for text in texts], np.float32)

    def embed_texts_for_images(self, texts: list[str]) -> np.ndarray:
        return np.asarray([[0.0, 0.0, 0.0, 1.0] for _ in texts], np.float32)

    def text_image_similarity(self, texts: list[str]) -> np.ndarray:
        return np.zeros(len(texts), np.float32)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        raise AssertionError("no photo in these judged queries")


@pytest.fixture
def judged_shop(client: OpenSearch, config: Config, tmp_path: Path) -> Path:
    indices.ensure_product_index(client, config, TINY_SPEC)
    actions = []
    for i in range(QUERIES):
        good = hand_made_document({"id": f"good-{i}", "title": f"item {i}"}, [([1.0, 0.0, 0.0, 0.0], f"g{i}")], meaning(i))
        decoy = hand_made_document({"id": f"decoy-{i}", "title": f"word{i} sticker"}, [([0.0, 1.0, 0.0, 0.0], f"d{i}")], [0.0, 0.0, 1.0])
        actions += [{"_index": config.index_alias, "_id": f"good-{i}", "_source": good}, {"_index": config.index_alias, "_id": f"decoy-{i}", "_source": decoy}]
    helpers.bulk(client, actions, refresh=True)
    path = tmp_path / "judged.jsonl"
    path.write_text("".join(json.dumps({"query": f"q{i}", "text": f"word{i}", "relevant": {f"good-{i}": 1}}) + "\n" for i in range(QUERIES)))
    return path


def test_a_fit_on_half_the_queries_improves_the_other_half(client: OpenSearch, config: Config, judged_shop: Path) -> None:
    result = tune(client, config, QueryEmbedder(MeaningBackend()), judged_shop, DEFAULT_RANKING)  # type: ignore[arg-type]

    assert result.scores["fit"]["queries"] == result.scores["held_out"]["queries"] == 5
    assert result.scores["held_out"]["before"] < 0.7  # the decoys' keyword matches win with the defaults
    assert result.scores["held_out"]["after"] == pytest.approx(1.0)
    assert result.improved
    # It learnt to trust the text vector over a bare keyword match, for words and nothing else.
    assert result.after.text.keywords < result.after.text.text
    assert result.after.photo_and_text == DEFAULT_RANKING.photo_and_text  # no query of that kind to learn from


def test_too_few_judged_queries_to_split_are_refused(client: OpenSearch, config: Config, judged_shop: Path) -> None:
    lines = judged_shop.read_text().splitlines()[:3]
    judged_shop.write_text("\n".join(lines) + "\n")

    with pytest.raises(EvaluationFailed, match="holds 3 judged queries; tuning needs at least 4"):
        tune(client, config, QueryEmbedder(MeaningBackend()), judged_shop, DEFAULT_RANKING)  # type: ignore[arg-type]


def test_photo_queries_alone_have_nothing_to_tune(client: OpenSearch, config: Config, judged_shop: Path) -> None:
    judged_shop.write_text("".join(json.dumps({"query": f"q{i}", "image": f"q{i}.jpg", "relevant": {"good-0": 1}}) + "\n" for i in range(4)))

    with pytest.raises(EvaluationFailed, match="only photo queries: one signal ranks them"):
        tune(client, config, QueryEmbedder(MeaningBackend()), judged_shop, DEFAULT_RANKING)  # type: ignore[arg-type]
