"""The shop's own categories and tags predicted for its products, from the products it has already tagged."""

from plugin.exports import lazy_exports

_EXPORTS = {
    "Neighbour": "plugin.tagging.vote",
    "Prediction": "plugin.tagging.vote",
    "StoreResult": "plugin.tagging.store",
    "near_products": "plugin.tagging.store",
    "predict_products": "plugin.tagging.predict",
    "store_predictions": "plugin.tagging.store",
    "stored_fields": "plugin.tagging.store",
    "predict_product": "plugin.tagging.predict",
    "vote": "plugin.tagging.vote",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
