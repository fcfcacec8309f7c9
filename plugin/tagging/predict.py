"""A catalogue product's category and tags predicted from its nearest tagged products in the index.

The nearest products by k-NN are read with their vectors, their exact similarity to the product
is computed, and the :data:`~plugin.tagging.vote.NEIGHBOURS` nearest that the shop has given a
category or a tag vote (:func:`plugin.tagging.vote.vote`). Read at the moment it is asked for,
the prediction follows every change to the catalogue without a model to retrain.

The product's own words are embedded afresh without its category (:func:`words_of`): the
stored text vector holds the category, and a suggestion that has read the shop's category
cannot tell the shop it is wrong. The neighbours' stored vectors, categories and all, are what
the words are compared with. Text is the default signal, chosen by ``lookalike eval tagging``
on the demo shop (leave-one-out; see the README for the figures of each signal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from plugin.opensearch.documents import product_vectors
from plugin.tagging.vote import NEIGHBOURS, Neighbour, Prediction, vote

Signal = Literal["text", "image", "both"]
DEFAULT_SIGNAL: Signal = "text"
#: Products read by each k-NN search, of which the nearest tagged ones vote.
CANDIDATES = 50
_FIELDS = ["category", "tags", "text_vector", "images.vector", "images.view"]


def words_of(source: dict[str, Any]) -> str:
    """A product's title, brand and description: its text as ingest embeds it, without the category."""
    parts = [source.get("title") or "", source.get("brand") or "", source.get("description") or ""]
    return ". ".join(part for part in parts if part)[:2000]


def predict_product(
    client: OpenSearch, alias: str, product_id: str, embed_text: Callable[[str], list[float]], signal: Signal = DEFAULT_SIGNAL
) -> Prediction | None:
    """The category and tags the nearest tagged products vote for *product_id* (its words embedded
    by *embed_text*); None when there is no such product."""
    try:
        source = client.get(index=alias, id=product_id, _source_includes=[*_FIELDS, "title", "brand", "description"])["_source"]
    except NotFoundError:
        return None
    vectors = product_vectors(source)
    words = words_of(source)
    vectors["text"] = np.asarray(embed_text(words), np.float32) if words and signal != "image" else None
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
        theirs = product_vectors(other)
        similarities = [float(np.dot(vectors[name], theirs[name])) for name in searches if theirs[name] is not None]
        if similarities:
            neighbours.append(Neighbour(float(np.mean(similarities)), other.get("category"), tuple(other.get("tags") or ())))
    neighbours.sort(key=lambda n: -n.similarity)
    return vote(neighbours[:NEIGHBOURS])


def _knn(signal: str, vector: np.ndarray) -> dict[str, Any]:
    if signal == "text":
        query: dict[str, Any] = {"knn": {"text_vector": {"vector": vector.tolist(), "k": CANDIDATES + 1}}}
    else:
        query = {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector.tolist(), "k": CANDIDATES + 1}}}}}
    return {"size": CANDIDATES + 1, "_source": _FIELDS, "query": query}
