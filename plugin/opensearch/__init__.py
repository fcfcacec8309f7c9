"""OpenSearch: the client, versioned product indices behind an alias, and the indexed document."""

from plugin.opensearch.client import cluster_health, connect
from plugin.opensearch.documents import DETAIL_FIELDS, SOURCE_FIELDS, product_document, same_model
from plugin.opensearch.indices import (
    create_product_index,
    ensure_index,
    ensure_product_index,
    index_model,
    indices_behind,
    swap_alias,
)

__all__ = [
    "DETAIL_FIELDS",
    "SOURCE_FIELDS",
    "cluster_health",
    "connect",
    "create_product_index",
    "ensure_index",
    "ensure_product_index",
    "index_model",
    "indices_behind",
    "product_document",
    "same_model",
    "swap_alias",
]
