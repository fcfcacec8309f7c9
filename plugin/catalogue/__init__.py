"""The shop's catalogue: JSONL or CSV rows read and validated into products, deletions or rejections."""

from plugin.exports import lazy_exports

_EXPORTS = {
    "CatalogueRow": "plugin.catalogue.reader",
    "DeleteRow": "plugin.catalogue.reader",
    "Product": "plugin.catalogue.reader",
    "RejectedRow": "plugin.catalogue.reader",
    "read_catalogue": "plugin.catalogue.reader",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
