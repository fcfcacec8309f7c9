"""Embedding specs for hand-made test data."""

from __future__ import annotations

from plugin.models.base import EmbeddingSpec

#: A model with tiny vectors so that hand-made test data can be checked by eye and by numpy.
TINY_SPEC = EmbeddingSpec(name="tiny-test-model", version="7", image_dims=4, text_dims=3)
