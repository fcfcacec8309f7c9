"""The indexed product: its fields, how a catalogue product becomes one, and whose vectors it holds.

The product mapping (``mappings/products.v1.json``), the ingest pipeline, the fields searches
return and the tests' hand-made products all take the document's shape from here; a test
holds these field lists against the mapping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from plugin.catalogue.reader import Product
from plugin.models.base import EmbeddingSpec

#: Every top-level field of a product document.
PRODUCT_FIELDS = (
    "product_id", "title", "description", "brand", "category", "category_path", "tags", "labels", "price",
    "currency", "in_stock", "stock", "popularity", "rating", "created_at", "updated_at", "product_url",
    "fingerprint", "text_fingerprint", "dup_group", "embedding_model", "embedding_model_version", "text_vector",
    "images", "predicted_category", "predicted_tags", "predicted",
)
#: What :mod:`plugin.tagging.store` writes onto a product after ingest; ingest carries them over
#: when it rewrites a product, until the next prediction replaces them.
PREDICTED_FIELDS = ("predicted_category", "predicted_tags", "predicted")
#: Every field of one entry of a product's ``images``.
IMAGE_FIELDS = ("url", "position", "fingerprint", "phash", "width", "height", "labels", "view", "gallery_views", "licence", "credit", "source_url", "provenance", "vector")
#: What a candidate hit carries: its product id, read from doc values, and no stored field.
#: Reading any stored field of a hit, even ``_id``, decompresses the stored source around it,
#: vectors and all; over a window of 100 candidates that was most of a signal's time (5,000
#: products, OpenSearch's own time at best: photo 9 ms with ``_id``, 3 ms without; text
#: vector 7 and 1 ms). Ingest makes the document id and ``product_id`` one (the ranking
#: profiles' scripts rely on it too).
HIT_IDS: Mapping[str, Any] = {"stored_fields": "_none_", "docvalue_fields": ["product_id"]}


def hit_id(hit: Mapping[str, Any]) -> str:
    """The product id of a hit of a :data:`HIT_IDS` search."""
    product_id: str = hit["fields"]["product_id"][0]
    return product_id


#: Fields returned with each search hit; vectors stay in the index.
def knn_cosine(hit: Mapping[str, Any]) -> float:
    """The cosine similarity behind a k-NN hit's score: Lucene scores ``cosinesimil`` as (1 + cos) / 2."""
    return 2 * float(hit["_score"]) - 1


SOURCE_FIELDS = [
    "product_id", "title", "brand", "category", "tags", "labels", "price", "currency", "in_stock",
    "popularity", "rating", "product_url", "images.url", "images.fingerprint", "images.view",
    "images.licence", "images.credit", "images.source_url",
]
#: Fields of a product the admin's catalogue browser shows (still no vectors).
DETAIL_FIELDS = [*SOURCE_FIELDS, "description", "dup_group", "images.labels", "images.width", "images.height", "images.provenance", "updated_at"]
#: An image's rights and Content Credentials: what a mapping before version 4 has no room for.
RIGHTS_FIELDS = ("licence", "credit", "source_url", "provenance")


def model_of(meta: Mapping[str, Any]) -> tuple[Any, Any]:
    """The (name, version) of the model whose vectors a document or an index's ``_meta`` holds."""
    return meta.get("embedding_model"), meta.get("embedding_model_version")


def same_model(meta: Mapping[str, Any], spec: EmbeddingSpec) -> bool:
    """Whether vectors stored under *meta* can be compared with vectors made by *spec*'s model."""
    return model_of(meta) == (spec.name, spec.version)


def describe_model(meta: Mapping[str, Any]) -> str:
    """``name vVERSION`` of the model *meta* names, for messages."""
    name, version = model_of(meta)
    return f"{name} v{version}"


def image_entry(
    url: str,
    position: int,
    fingerprint: str,
    phash: str,
    size: tuple[int, int],
    labels: Sequence[str],
    vector: Any,
    gallery_views: Sequence[str] = (),
    rights: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of a product's ``images``: a photo, its fingerprints, labels and vector, the
    names of the gallery views made of it (:func:`view_entry`) when any were asked for, its
    licence, credit and source URL as the catalogue gives them, and its Content Credentials."""
    entry = {
        "url": url,
        "position": position,
        "fingerprint": fingerprint,
        "phash": phash,
        "width": size[0],
        "height": size[1],
        "labels": list(labels),
        "vector": as_vector(vector),
    }
    # Absent rather than empty: a document without views stays one a version 2 index accepts.
    entry |= {"gallery_views": list(gallery_views)} if gallery_views else {}
    entry |= dict(rights or {})
    return entry | ({"provenance": dict(provenance)} if provenance else {})


def without_rights(entry: Mapping[str, Any], keep_provenance: bool = False) -> dict[str, Any]:
    """*entry* without its image's rights (and its provenance, unless *keep_provenance*)."""
    dropped = [field for field in RIGHTS_FIELDS if not (keep_provenance and field == "provenance")]
    return {key: value for key, value in entry.items() if key not in dropped}


def view_entry(photo: Mapping[str, Any], view: str, vector: Any) -> dict[str, Any]:
    """An entry of ``images`` holding the vector of gallery view *view* of the photo entry *photo*.

    It shares the photo's URL, position and fingerprint, so that it is reused and replaced with
    its photo; it is searched as one more photo of the product and never shown.
    """
    return {"url": photo["url"], "position": photo["position"], "fingerprint": photo["fingerprint"], "view": view, "vector": as_vector(vector)}


def photo_entries(images: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries of ``images`` that are the product's photos, without their gallery views."""
    return [entry for entry in images if "view" not in entry]


def without_views(source: dict[str, Any]) -> dict[str, Any]:
    """A product's stored fields as shown: its photos without the gallery views searched beside them."""
    if "images" not in source:
        return source
    return source | {"images": photo_entries(source["images"])}


def product_document(
    product: Product, images: list[dict[str, Any]], text_vector: Any, text_fingerprint: str, spec: EmbeddingSpec
) -> dict[str, Any]:
    """The document indexed for *product*, with its *images* entries (main photo first).

    ``fingerprint`` hashes everything but the vectors and ``updated_at``, so a document that
    would not change can be recognised without writing it.
    """
    labels = list(dict.fromkeys(label for entry in images for label in entry.get("labels", [])))
    photos = photo_entries(images)
    document: dict[str, Any] = {
        "product_id": product.id,
        "title": product.title,
        "description": product.description,
        "brand": product.brand,
        "category": " > ".join(product.category) or None,
        "category_path": list(product.category_path),
        "tags": list(product.tags),
        "labels": labels,
        "price": float(product.price) if product.price is not None else None,
        "currency": product.currency,
        "in_stock": product.in_stock,
        "stock": product.stock,
        "popularity": product.popularity,
        "rating": product.rating,
        "created_at": product.created_at.isoformat() if product.created_at else None,
        "product_url": product.product_url,
        "text_fingerprint": text_fingerprint,
        "embedding_model": spec.name,
        "embedding_model_version": spec.version,
        "text_vector": as_vector(text_vector) if text_vector is not None else None,
        "images": images,
        # Near-duplicate group: the perceptual hash of the main photo, equal for re-encoded,
        # resized or lightly edited copies, so search can show one of them.
        "dup_group": photos[0].get("phash") if photos else None,
    }
    document = {key: value for key, value in document.items() if value is not None}
    without_vectors = {k: v for k, v in document.items() if k != "text_vector"}
    without_vectors["images"] = [{k: v for k, v in e.items() if k != "vector"} for e in images]
    document["fingerprint"] = sha256(json.dumps(without_vectors, sort_keys=True, default=str))
    return document


def as_vector(vector: Any) -> list[float]:
    """A vector as JSON-ready floats, rounded to 6 decimals (float32 carries no more; shorter JSON)."""
    return np.round(np.asarray(vector, dtype=np.float64), 6).tolist()


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def product_vectors(source: dict[str, Any]) -> dict[str, np.ndarray | None]:
    """A product's text vector and the unit mean of its photos' vectors (gallery views left out)."""
    photos = [image["vector"] for image in source.get("images", []) if image.get("vector") and not image.get("view")]
    image = None
    if photos:
        mean = np.mean(np.asarray(photos, np.float32), axis=0)
        image = mean / max(float(np.linalg.norm(mean)), 1e-12)
    text = np.asarray(source["text_vector"], np.float32) if source.get("text_vector") else None
    return {"text": text, "image": image}
