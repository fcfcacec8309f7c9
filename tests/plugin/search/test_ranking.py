"""Ranking settings: default weights per kind of query, which a query's own weights override."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plugin.search.ranking import DEFAULT_RANKING, KindWeights, RankingSettings
from plugin.search.request import Query


def test_each_kind_of_query_gets_its_own_default_weights() -> None:
    text = DEFAULT_RANKING.resolve(Query(text="sofa"))
    photo = DEFAULT_RANKING.resolve(Query(image_vector=[1.0]))
    both = DEFAULT_RANKING.resolve(Query(image_vector=[1.0], text="sofa"))

    assert text.weights == {"image": 0.0, "text": 1.0, "text_image": 0.5, "keywords": 1.0}
    assert photo.weights == {"image": 1.0, "text": 0.0, "text_image": 0.0, "keywords": 0.0}
    # With a photo, words reorder look-alikes but must not outvote the photo.
    assert both.weights["image"] > both.weights["keywords"] + both.weights["text"]
    assert {text.fusion, photo.fusion, both.fusion} == {"adaptive"}


def test_a_querys_own_weights_and_fusion_override_the_settings_signal_by_signal() -> None:
    resolved = DEFAULT_RANKING.resolve(Query(text="sofa", weights={"text_image": 0.0}, fusion="rrf"))

    assert resolved.weights == {"image": 0.0, "text": 1.0, "text_image": 0.0, "keywords": 1.0}
    assert resolved.fusion == "rrf"


def test_settings_round_trip_through_json_and_refuse_unknown_fields() -> None:
    tuned = RankingSettings(fusion="weighted", text=KindWeights(text=2.0, keywords=0.5))

    assert RankingSettings.model_validate(tuned.model_dump(mode="json")) == tuned
    with pytest.raises(ValidationError):
        RankingSettings.model_validate({"text": {"colour": 1.0}})
