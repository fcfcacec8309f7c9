"""The search service (``api/service.py``): the model guard and its time to live, the profiles stored once."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch

from api.errors import ApiError
from api.service import ModelGuard, SearchService
from plugin.config import Config
from plugin.errors import ModelMismatch
from plugin.models.registry import spec_for_model
from plugin.opensearch.indices import create_product_index, ensure_index, swap_alias
from plugin.opensearch.ranking_store import save_ranking
from plugin.search.ranking import DEFAULT_RANKING, RankingSettings
from tests.support.models import TINY_SPEC


class Clock:
    """A clock the test moves by hand, so the guard's time to live is checked without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_guard_refuses_another_models_index_once_its_last_check_expires(config: Config, client: OpenSearch) -> None:
    spec = spec_for_model(config.model)
    clock = Clock()
    guard = ModelGuard(client, config.index_alias, spec, ttl=5.0, clock=clock)
    guard.check()  # no index yet: nothing to compare with, nothing refused
    ours = create_product_index(client, config, spec, name=f"{config.index_alias}-ours")
    swap_alias(client, config.index_alias, ours)
    clock.now += 6
    guard.check()
    assert guard.problem(ours) is None

    theirs = create_product_index(client, config, TINY_SPEC, name=f"{config.index_alias}-theirs")
    swap_alias(client, config.index_alias, theirs)
    clock.now += 4
    guard.check()  # trusted for 5 s: the alias is not looked up again yet
    clock.now += 2
    with pytest.raises(ModelMismatch, match="tiny-test-model v7"):
        guard.check()
    with pytest.raises(ModelMismatch):
        guard.check()  # a refusal is not cached as a pass


def test_the_ranking_profiles_are_stored_once(config: Config) -> None:
    service = SearchService.build(config, warm=False)

    assert service.profiles_stored is False
    service.store_profiles()
    service.store_profiles()
    assert service.profiles_stored is True
    assert service.url_policy.local_roots == ()  # the API never reads local files


def test_settings_it_cannot_read_leave_search_on_the_defaults(config: Config, client: OpenSearch, caplog: pytest.LogCaptureFixture) -> None:
    # Settings a newer release wrote, with a field this one does not know.
    ensure_index(client, config, config.ranking_index, "ranking")
    newer = {"version": 1, "created_at": "2027-01-01T00:00:00+00:00", "source": "a newer release", "scores": {},
             "settings": {**DEFAULT_RANKING.model_dump(mode="json"), "learned_sparse": {"weight": 0.4}}}
    client.index(index=config.ranking_index, id="1", body=newer, refresh=True)
    service = SearchService.build(config, warm=False)

    assert service.ranking() == DEFAULT_RANKING
    assert "ranking settings unreadable, searching with the defaults" in caplog.text


def test_a_saved_version_is_read_by_its_number_and_an_unknown_one_is_a_404(config: Config, client: OpenSearch) -> None:
    service = SearchService.build(config, warm=False)
    saved = save_ranking(client, config, RankingSettings(fusion="rrf"), "test", {})

    assert service.ranking_version(saved.version).fusion == "rrf"
    assert service.ranking_version(0) == DEFAULT_RANKING
    with pytest.raises(ApiError, match="no ranking version 7"):
        service.ranking_version(7)
