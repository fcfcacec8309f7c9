"""The shop's catalogue: JSONL or CSV rows read and validated into products, deletions or rejections."""

from plugin.catalogue.reader import (
    CatalogueRow,
    DeleteRow,
    Product,
    RejectedRow,
    read_catalogue,
)

__all__ = ["CatalogueRow", "DeleteRow", "Product", "RejectedRow", "read_catalogue"]
