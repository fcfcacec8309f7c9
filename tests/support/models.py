"""Embedding specs and product documents for hand-made test data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from plugin.catalogue.reader import Product
from plugin.models.base import EmbeddingSpec
from plugin.opensearch.documents import image_entry, product_document, sha256

#: A model with tiny vectors so that hand-made test data can be checked by eye and by numpy.
TINY_SPEC = EmbeddingSpec(name="tiny-test-model", version="7", image_dims=4, text_dims=3)


def hand_made_document(
    fields: Mapping[str, Any],
    images: Sequence[tuple[Sequence[float], str]],
    text_vector: Sequence[float],
    spec: EmbeddingSpec = TINY_SPEC,
) -> dict[str, Any]:
    """The document ingest would index for a catalogue row of *fields* (``id`` included).

    *images* holds each photo's vector and perceptual hash, main photo first; the photos
    are named ``<id>-<position>.jpg``. Built by :func:`plugin.opensearch.documents.product_document`,
    so hand-made test products have exactly the shape of ingested ones.
    """
    urls = [f"{fields['id']}-{position}.jpg" for position in range(len(images))]
    product = Product.model_validate({**fields, "images": urls})
    entries = [
        image_entry(url, position, sha256(url), phash, (64, 64), (), vector)
        for position, (url, (vector, phash)) in enumerate(zip(urls, images))
    ]
    return product_document(product, entries, text_vector, sha256(product.title), spec)
