"""What the search routes share: the cluster client, the query embedder, and the checks a search needs first.

:func:`api.app.create_app` builds one :class:`SearchService` and keeps it in
``app.extensions["lookalike"]``; routes find it there with :func:`current_service`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, OpenSearchException
from pydantic import ValidationError

from api.errors import ApiError
from plugin.config import Config
from plugin.errors import ModelMismatch
from plugin.images.fetch import FetchPolicy
from plugin.models.base import EmbeddingBackend, EmbeddingSpec
from plugin.models.detector import Detector
from plugin.models.registry import backend_for, detector_for, usable_cores
from plugin.opensearch.client import cluster_health, connect
from plugin.opensearch.documents import describe_model, same_model, without_views
from plugin.opensearch.indices import index_model, indices_behind
from plugin.opensearch.ranking_store import StoredRanking, live_ranking, saved_ranking
from plugin.opensearch.takedowns import check_not_withheld
from plugin.search.profiles import store_profiles
from plugin.search.query_vectors import QueryEmbedder
from plugin.search.ranking import DEFAULT_RANKING, RankingSettings
from plugin.search.request import Query
from plugin.search.service import SearchResult, search

log = logging.getLogger(__name__)

#: Seconds a model check of the live index is trusted: the alias moves rarely (a re-embed).
MODEL_CHECK_SECONDS = 5.0
#: Seconds the shop's ranking settings are trusted: a tune reaches every API process within it.
RANKING_SECONDS = 10.0


class ModelGuard:
    """Refuses to compare query vectors with an index that holds another model's vectors.

    Vectors of two models give confident nonsense when compared. What each index holds never
    changes, so it is read once per index; which index the alias names is looked up again
    at most every *ttl* seconds.
    """

    def __init__(
        self, client: OpenSearch, alias: str, spec: EmbeddingSpec,
        ttl: float = MODEL_CHECK_SECONDS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.alias, self.spec, self.ttl, self.clock = client, alias, spec, ttl, clock
        self._problems: dict[str, str | None] = {}
        self._passed_at: float | None = None

    def problem(self, index: str) -> str | None:
        """Why *index*'s vectors cannot be compared with this API's model, or None when they can."""
        if index not in self._problems:
            meta = index_model(self.client, index)
            self._problems[index] = None if same_model(meta, self.spec) else (
                f"the index {index} holds vectors of {describe_model(meta)}, but this API embeds queries with "
                f"{self.spec.name} v{self.spec.version}; re-embed with `lookalike ingest CATALOGUE --new-index` or set LOOKALIKE_MODEL"
            )
        return self._problems[index]

    def check(self) -> None:
        """Raise :class:`ModelMismatch` when the index behind the alias holds another model's vectors."""
        if self._passed_at is not None and self.clock() - self._passed_at < self.ttl:
            return
        live = indices_behind(self.client, self.alias)
        problem = self.problem(live[0]) if live else None
        if problem:
            raise ModelMismatch(problem)
        self._passed_at = self.clock()


class SearchService:
    """The client, the embedder, the detector, the URL policy for query photos, the model guard, and the ranking profiles' state."""

    def __init__(self, config: Config, client: OpenSearch, embedder: QueryEmbedder, detector: Detector | None = None) -> None:
        self.config, self.client, self.embedder = config, client, embedder
        #: Finds the objects in a query photo; None when it has not been built (photos are then searched whole).
        self.detector = detector
        # The API never reads local files, whatever the ingest workers may.
        self.url_policy: FetchPolicy = dataclasses.replace(config.fetch, local_roots=())
        #: Query photos fetched by URL at once (api/photos.py): as configured, else half the
        #: default request threads (one per core); lookalike serve sets half of those it runs.
        self.url_fetches = max(1, config.serve.query_fetches or usable_cores())
        self.url_fetch_slots = threading.BoundedSemaphore(self.url_fetches)
        self.guard = ModelGuard(client, config.index_alias, embedder.backend.spec)
        self.profiles_stored = False
        self._profiles_lock = threading.Lock()
        self._ranking: tuple[float, StoredRanking | None] | None = None
        #: Saved versions never change, so each is read once.
        self._versions: dict[int, RankingSettings] = {0: DEFAULT_RANKING}

    @classmethod
    def build(cls, config: Config, backend: EmbeddingBackend | None = None, warm: bool = True) -> SearchService:
        """The service for *config*, with *backend* or the configured model; *warm* runs the model once now."""
        embedder = QueryEmbedder(backend or backend_for(config), views=config.query_views)
        detector = detector_for(config)
        if detector is None:
            log.warning("no object detector built: query photos are searched whole; run `lookalike detector build`")
        if warm:
            embedder.backend.embed_texts_for_images(["warm up"])
        return cls(config, connect(config), embedder, detector)

    def search(self, query: Query, check_model: bool = True, ranking_version: int | None = None) -> SearchResult:
        """Run *query* on the live index; *check_model* refuses an index of another model first.

        *ranking_version* searches with a saved version of the ranking settings (0: the
        built-in defaults) instead of the live one, to compare them.
        """
        if query.uses_predictions and not self.config.predicted_filters:
            field = "filters.predicted_category" if query.filters.predicted_category else "filters.predicted_tags_any"
            raise ApiError(400, "predictions_off", "this shop does not filter by predicted categories and tags (LOOKALIKE_PREDICTED_FILTERS)", field)
        if query.facets and self.config.predicted_filters:
            query = query.model_copy(update={"predicted_facets": True})
        if check_model and (query.image_vector is not None or query.text_vector is not None):
            self.guard.check()
        if query.profile is not None:
            self.store_profiles()
        ranking = self.ranking() if ranking_version is None else self.ranking_version(ranking_version)
        return search(self.client, self.config.index_alias, query, ranking)

    def stored_ranking(self) -> StoredRanking | None:
        """The shop's live ranking version (None: the built-in defaults), re-read every :data:`RANKING_SECONDS`.

        Settings that cannot be read or validated (written by a newer release, say) must not
        stop every search: the last good ones stay, or the defaults, and the log says why.
        """
        now = time.monotonic()
        if self._ranking is None or now - self._ranking[0] >= RANKING_SECONDS:
            previous = self._ranking[1] if self._ranking else None
            try:
                self._ranking = (now, live_ranking(self.client, self.config))
            except (OpenSearchException, ValidationError) as exc:
                log.warning("ranking settings unreadable, searching with %s: %s", f"version {previous.version}" if previous else "the defaults", exc)
                self._ranking = (now, previous)
        return self._ranking[1]

    def ranking(self) -> RankingSettings:
        stored = self.stored_ranking()
        return stored.settings if stored else DEFAULT_RANKING

    def ranking_version(self, version: int) -> RankingSettings:
        """A saved version's settings (one document read, once); a 404 :class:`ApiError` when there is none."""
        if version not in self._versions:
            stored = saved_ranking(self.client, self.config, version)
            if stored is None:
                raise ApiError(404, "not_found", f"no ranking version {version}", "ranking_version")
            self._versions[version] = stored.settings
        return self._versions[version]

    def store_profiles(self) -> None:
        """Store the ranking profiles' scripts once per process, on first use: the cluster may start after the API."""
        with self._profiles_lock:
            if not self.profiles_stored:
                store_profiles(self.client)
                self.profiles_stored = True

    def product_vectors(self, product_id: str) -> list[list[float]]:
        """Every vector the image signal scored a product by: its photos' and their gallery views'
        (none when it has gone since it was found)."""
        try:
            source = self.client.get(index=self.config.index_alias, id=product_id, _source_includes=["images.vector"])["_source"]
        except NotFoundError:
            return []
        return [image["vector"] for image in source.get("images", [])]

    def product(self, product_id: str, fields: list[str]) -> dict[str, Any]:
        """*fields* of the product's stored source, its photos without their gallery views; a 404
        :class:`ApiError` when there is no such product, :class:`ProductTakenDown` (410) while a
        takedown withholds it."""
        check_not_withheld(self.client, self.config.index_alias, product_id)
        if any(field.startswith("images.") for field in fields):
            fields = [*fields, "images.view"]  # to tell the photos from their views
        try:
            return without_views(self.client.get(index=self.config.index_alias, id=product_id, _source_includes=fields)["_source"])
        except NotFoundError:
            raise ApiError(404, "not_found", f"no product {product_id}", "product_id") from None

    def health(self) -> dict[str, Any]:
        """The cluster's health, the live index and the model; raises :class:`EngineUnavailable` when unreachable."""
        cluster = cluster_health(self.client)
        live = indices_behind(self.client, self.config.index_alias)
        problem = self.guard.problem(live[0]) if live else None
        spec = self.embedder.backend.spec
        return {
            "status": "model_mismatch" if problem else "ok" if live else "no_index",
            "opensearch": cluster["status"],
            "index": live[0] if live else None,
            "model": {"name": spec.name, "version": spec.version},
            **({"problem": problem} if problem else {}),
        }


def current_service() -> SearchService:
    """The application's :class:`SearchService` (inside a request or an app context)."""
    service: SearchService = current_app.extensions["lookalike"]
    return service
