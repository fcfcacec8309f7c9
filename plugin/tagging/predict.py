"""A catalogue product's category and tags predicted from its nearest tagged products in the index.

The nearest products by k-NN are read with their vectors, their exact similarity to the product
is computed, and the :data:`~plugin.tagging.vote.NEIGHBOURS` nearest that the shop has given a
category or a tag vote (:func:`plugin.tagging.vote.vote`). Read at the moment it is asked for,
the prediction follows every change to the catalogue without a model to retrain.

The text vector (title and description) is the default signal: on the demo shop, leave-one-out,
it predicted the category for 0.963 of the products against 0.889 for text and image together
and 0.685 for the image alone, and its tags better too (``lookalike eval tagging``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from plugin.tagging.vote import NEIGHBOURS, Neighbour, Prediction, vote

Signal = Literal["text", "image", "both"]
DEFAULT_SIGNAL: Signal = "text"
#: Products read by each k-NN search, of which the nearest tagged ones vote.
CANDIDATES = 50
_FIELDS = ["category", "tags", "text_vector", "images.vector", "images.view"]


def predict_product(client: OpenSearch, alias: str, product_id: str, signal: Signal = DEFAULT_SIGNAL) -> Prediction | None:
    """The category and tags the nearest tagged products vote for *product_id*; None when there is no such product."""
    try:
        source = client.get(index=alias, id=product_id, _source_includes=_FIELDS)["_source"]
    except NotFoundError:
        return None
    vectors = _vectors(source)
    searches = [name for name in (("text", "image") if signal == "both" else (signal,)) if vectors[name] is not None]
    found: dict[str, dict[str, Any]] = {}
    for name in searches:
        for hit in client.search(index=alias, body=_knn(name, vectors[name]))["hits"]["hits"]:
            if hit["_id"] != product_id:
                found[hit["_id"]] = hit["_source"]
    neighbours = []
    for other in found.values():
        if not (other.get("category") or other.get("tags")):
            continue  # nothing to vote for
        theirs = _vectors(other)
        similarities = [float(np.dot(vectors[name], theirs[name])) for name in searches if theirs[name] is not None]
        if similarities:
            neighbours.append(Neighbour(float(np.mean(similarities)), other.get("category"), tuple(other.get("tags") or ())))
    neighbours.sort(key=lambda n: -n.similarity)
    return vote(neighbours[:NEIGHBOURS])


def _vectors(source: dict[str, Any]) -> dict[str, np.ndarray | None]:
    """A product's text vector and the unit mean of its photos' vectors (gallery views left out)."""
    photos = [image["vector"] for image in source.get("images", []) if image.get("vector") and not image.get("view")]
    image = None
    if photos:
        mean = np.mean(np.asarray(photos, np.float32), axis=0)
        image = mean / max(float(np.linalg.norm(mean)), 1e-12)
    text = np.asarray(source["text_vector"], np.float32) if source.get("text_vector") else None
    return {"text": text, "image": image}


def _knn(signal: str, vector: np.ndarray) -> dict[str, Any]:
    if signal == "text":
        query: dict[str, Any] = {"knn": {"text_vector": {"vector": vector.tolist(), "k": CANDIDATES + 1}}}
    else:
        query = {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector.tolist(), "k": CANDIDATES + 1}}}}}
    return {"size": CANDIDATES + 1, "_source": _FIELDS, "query": query}
