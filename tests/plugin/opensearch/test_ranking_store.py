"""The shop's ranking settings in the cluster: versioned, newest live, nothing overwritten."""

from __future__ import annotations

from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch.ranking_store import live_ranking, ranking_history, save_ranking
from plugin.search.ranking import DEFAULT_RANKING, KindWeights, RankingSettings


def test_without_saved_settings_nothing_is_live(client: OpenSearch, config: Config) -> None:
    assert live_ranking(client, config) is None
    assert ranking_history(client, config) == []


def test_each_save_is_a_new_version_and_the_newest_is_live(client: OpenSearch, config: Config) -> None:
    tuned = RankingSettings(fusion="rrf", text=KindWeights(text=2.0, keywords=0.5))
    scores = {"metric": "ndcg_at_10", "held_out": {"queries": 5, "before": 0.61, "after": 0.74}}

    first = save_ranking(client, config, tuned, "lookalike tune judged.jsonl", scores)
    second = save_ranking(client, config, DEFAULT_RANKING, "lookalike ranking rollback 0", {})

    assert (first.version, second.version) == (1, 2)
    live = live_ranking(client, config)
    assert live is not None and live.version == 2 and live.settings == DEFAULT_RANKING
    history = ranking_history(client, config)
    assert [stored.version for stored in history] == [2, 1]
    assert history[1].settings == tuned and history[1].scores == scores
    assert history[1].source == "lookalike tune judged.jsonl"
