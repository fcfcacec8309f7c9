"""OpenSearch: the client, versioned product indices behind an alias, the indexed document, the quarantine."""

from plugin.opensearch.client import cluster_health, connect
from plugin.opensearch.documents import (
    DETAIL_FIELDS,
    SOURCE_FIELDS,
    product_document,
    same_model,
)
from plugin.opensearch.indices import (
    create_product_index,
    ensure_index,
    ensure_product_index,
    index_model,
    indices_behind,
    swap_alias,
)
from plugin.opensearch.quarantine import QuarantineRecord, list_records, write_records

__all__ = [
    "DETAIL_FIELDS",
    "QuarantineRecord",
    "SOURCE_FIELDS",
    "cluster_health",
    "connect",
    "create_product_index",
    "ensure_index",
    "ensure_product_index",
    "index_model",
    "indices_behind",
    "list_records",
    "product_document",
    "same_model",
    "swap_alias",
    "write_records",
]
