"""Search: the request model, its OpenSearch queries, fusion, ranking profiles and query vectors."""

from plugin.search.fusion import fuse
from plugin.search.profiles import PROFILES, store_profiles
from plugin.search.query_vectors import QueryEmbedder
from plugin.search.request import (
    DEFAULT_WEIGHTS,
    Filters,
    Fusion,
    Query,
    SearchOptions,
    Sort,
    Weights,
)
from plugin.search.service import SearchResult, search

__all__ = [
    "DEFAULT_WEIGHTS",
    "PROFILES",
    "Filters",
    "Fusion",
    "Query",
    "QueryEmbedder",
    "SearchOptions",
    "SearchResult",
    "Sort",
    "Weights",
    "fuse",
    "search",
    "store_profiles",
]
