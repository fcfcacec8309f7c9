"""The shop's catalogue: rows read and validated into products, and the quarantine of what failed."""

from plugin.catalogue.quarantine import QuarantineRecord, list_records, write_records
from plugin.catalogue.reader import CatalogueRow, DeleteRow, Product, RejectedRow, read_catalogue

__all__ = [
    "CatalogueRow",
    "DeleteRow",
    "Product",
    "QuarantineRecord",
    "RejectedRow",
    "list_records",
    "read_catalogue",
    "write_records",
]
