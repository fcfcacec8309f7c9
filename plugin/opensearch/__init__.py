"""OpenSearch: the client, versioned product indices behind an alias, the indexed document, the quarantine."""

from plugin.exports import lazy_exports

_EXPORTS = {
    "DETAIL_FIELDS": "plugin.opensearch.documents",
    "QuarantineRecord": "plugin.opensearch.quarantine",
    "SOURCE_FIELDS": "plugin.opensearch.documents",
    "cluster_health": "plugin.opensearch.client",
    "connect": "plugin.opensearch.client",
    "create_product_index": "plugin.opensearch.indices",
    "ensure_index": "plugin.opensearch.indices",
    "ensure_product_index": "plugin.opensearch.indices",
    "go_live": "plugin.opensearch.indices",
    "index_model": "plugin.opensearch.indices",
    "indices_behind": "plugin.opensearch.indices",
    "list_records": "plugin.opensearch.quarantine",
    "product_document": "plugin.opensearch.documents",
    "same_model": "plugin.opensearch.documents",
    "swap_alias": "plugin.opensearch.indices",
    "write_records": "plugin.opensearch.quarantine",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
