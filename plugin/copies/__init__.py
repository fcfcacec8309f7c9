"""Copy detection: which catalogue images are copies of a photo, or of each other, and the evidence."""

from plugin.exports import lazy_exports

_EXPORTS = {
    "CopyMatch": "plugin.copies.finder",
    "CopyPair": "plugin.copies.scan",
    "CopyRule": "plugin.copies.evidence",
    "Evidence": "plugin.copies.evidence",
    "find_copies": "plugin.copies.finder",
    "load_catalogue_images": "plugin.copies.scan",
    "photo_hashes": "plugin.copies.evidence",
    "scan_catalogue": "plugin.copies.scan",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
