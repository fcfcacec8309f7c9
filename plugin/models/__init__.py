"""Embedding models: the backend protocol, the model's identity, and loading one by name.

The backends themselves (``offline``, ``clip``) import torch and are loaded on demand by
:func:`load_backend`, so importing this package stays cheap.
"""

from plugin.exports import lazy_exports

_EXPORTS = {
    "EmbeddingBackend": "plugin.models.base",
    "EmbeddingSpec": "plugin.models.base",
    "OFFLINE_DEFAULT": "plugin.models.base",
    "backend_for": "plugin.models.registry",
    "load_backend": "plugin.models.registry",
    "normalise": "plugin.models.base",
    "spec_for_model": "plugin.models.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
