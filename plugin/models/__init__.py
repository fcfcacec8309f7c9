"""Embedding models: the backend protocol, the model's identity, and loading one by name.

The backends themselves (``offline``, ``clip``) import torch and are loaded on demand by
:func:`load_backend`, so importing this package stays cheap.
"""

from plugin.models.base import (
    OFFLINE_DEFAULT,
    EmbeddingBackend,
    EmbeddingSpec,
    normalise,
)
from plugin.models.registry import load_backend, spec_for_model

__all__ = ["OFFLINE_DEFAULT", "EmbeddingBackend", "EmbeddingSpec", "load_backend", "normalise", "spec_for_model"]
