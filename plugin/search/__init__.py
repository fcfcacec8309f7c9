"""Search: the request model, its OpenSearch queries, fusion, ranking profiles and query vectors."""

from plugin.exports import lazy_exports

_EXPORTS = {
    "DEFAULT_RANKING": "plugin.search.ranking",
    "FusionParams": "plugin.search.fusion",
    "Filters": "plugin.search.request",
    "Fusion": "plugin.search.request",
    "PROFILES": "plugin.search.profiles",
    "Query": "plugin.search.request",
    "QueryEmbedder": "plugin.search.query_vectors",
    "QueryKind": "plugin.search.request",
    "RankingSettings": "plugin.search.ranking",
    "SearchOptions": "plugin.search.request",
    "SearchResult": "plugin.search.service",
    "Sort": "plugin.search.request",
    "Weights": "plugin.search.request",
    "fuse": "plugin.search.fusion",
    "search": "plugin.search.service",
    "store_profiles": "plugin.search.profiles",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
