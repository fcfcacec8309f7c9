"""A shop's ranking settings: the fusion method, its parameters, and default weights per kind of query.

A query's own ``weights`` and ``fusion`` override them. The built-in defaults
(:data:`DEFAULT_RANKING`) were chosen on the Vendure catalogue and checked on Fashion-MNIST
and the held-out Tux Paint photos (``reports/eval-*.json``); ``lookalike tune`` replaces
them with settings fitted to the shop's own judged queries, stored in the cluster by
:mod:`plugin.opensearch.ranking_store`.

Why these defaults: words alone are answered by keywords and the text vector, with the
text-to-image bridge at half weight and only as far as the words name something the image
model knows; a photo alone by the image signal; a photo with words mainly by the photo,
the words voting at 0.3 so they reorder look-alikes without outvoting a clear visual match
(with equal weights, category words dragged a degraded photo's own product from first
place more often than they helped it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plugin.search.fusion import FusionParams
from plugin.search.request import SIGNALS, Fusion, Query, QueryKind


class KindWeights(BaseModel):
    """Every signal's weight for one kind of query."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: float = Field(default=0.0, ge=0, le=100)
    text: float = Field(default=0.0, ge=0, le=100)
    text_image: float = Field(default=0.0, ge=0, le=100)
    keywords: float = Field(default=0.0, ge=0, le=100)


class RankingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    fusion: Fusion = Fusion.adaptive
    params: FusionParams = FusionParams()
    text: KindWeights = KindWeights(text=1.0, text_image=0.5, keywords=1.0)
    photo: KindWeights = KindWeights(image=1.0)
    photo_and_text: KindWeights = KindWeights(image=1.0, text=0.3, text_image=0.15, keywords=0.3)

    def weights_for(self, kind: QueryKind | str) -> dict[str, float]:
        weights: KindWeights = getattr(self, QueryKind(kind).value)
        return weights.model_dump()

    def resolve(self, query: Query) -> Query:
        """*query* with every signal's weight and the fusion method filled in."""
        weights = self.weights_for(query.kind) | query.weights
        return query.model_copy(update={"weights": {name: weights.get(name, 0.0) for name in SIGNALS}, "fusion": query.fusion or self.fusion})


DEFAULT_RANKING = RankingSettings()
