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

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from opensearchpy import OpenSearch

from plugin.errors import EngineBusy
from plugin.opensearch.documents import knn_cosine, product_vectors
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
    return predict_products(client, alias, [product_id], lambda texts: np.asarray([embed_text(t) for t in texts], np.float32), signal).get(product_id)


def predict_products(
    client: OpenSearch, alias: str, product_ids: Sequence[str], embed_texts: Callable[[list[str]], np.ndarray], signal: Signal = DEFAULT_SIGNAL
) -> dict[str, Prediction]:
    """The prediction for each of *product_ids* that exists: their words embedded in one batch by
    *embed_texts*, their nearest products read by one multi-search."""
    # Each product's words are embedded afresh (words_of): its stored text vector holds its category.
    wanted = ["title", "brand", "description", *(_FIELDS if signal != "text" else [])]
    docs = client.mget(index=alias, body={"ids": list(product_ids)}, _source_includes=wanted)["docs"]
    sources = {doc["_id"]: doc["_source"] for doc in docs if doc.get("found")}
    vectors = {pid: product_vectors(source) for pid, source in sources.items()}
    words = {pid: words_of(source) for pid, source in sources.items()}
    worded = [pid for pid in sources if words[pid]] if signal != "image" else []
    embedded = embed_texts([words[pid] for pid in worded]) if worded else []
    for pid in sources:
        vectors[pid]["text"] = None
    for pid, vector in zip(worded, embedded):
        vectors[pid]["text"] = np.asarray(vector, np.float32)
    names = ("text", "image") if signal == "both" else (signal,)
    # By words alone, the k-NN score is the exact cosine of the two text vectors: no vectors to read.
    by_score = names == ("text",)
    searches = [(pid, name) for pid in sources for name in names if vectors[pid][name] is not None]
    body: list[dict[str, Any]] = []
    for pid, name in searches:
        body += [{"index": alias}, _knn(name, vectors[pid][name], with_vectors=not by_score)]  # type: ignore[arg-type]
    responses = client.msearch(body=body)["responses"] if body else []
    found: dict[str, dict[str, dict[str, Any]]] = {pid: {} for pid in sources}
    scored: dict[str, dict[str, float]] = {pid: {} for pid in sources}
    for (pid, name), response in zip(searches, responses):
        if "error" in response:
            # Read as "no neighbours", it would store an empty prediction over a good one.
            raise EngineBusy(f"the search for the neighbours of {pid} failed ({response.get('status')}); predict again shortly")
        for hit in response["hits"]["hits"]:
            if hit["_id"] != pid:
                found[pid][hit["_id"]] = hit["_source"]
                if by_score:
                    scored[pid][hit["_id"]] = knn_cosine(hit)
    return {pid: _vote_of(vectors[pid], [name for name in names if vectors[pid][name] is not None], found[pid], scored[pid]) for pid in sources}


def _vote_of(
    vectors: dict[str, np.ndarray | None], searched: list[str], found: dict[str, dict[str, Any]], scored: dict[str, float]
) -> Prediction:
    neighbours = []
    for other_id, other in found.items():
        if not (other.get("category") or other.get("tags")):
            continue  # nothing to vote for
        if other_id in scored:
            similarities = [scored[other_id]]
        else:
            theirs = product_vectors(other)
            similarities = [float(np.dot(vectors[name], theirs[name])) for name in searched if theirs[name] is not None]  # type: ignore[arg-type]
        if similarities:
            neighbours.append(Neighbour(float(np.mean(similarities)), other.get("category"), tuple(other.get("tags") or ())))
    neighbours.sort(key=lambda n: -n.similarity)
    return vote(neighbours[:NEIGHBOURS])


def _knn(signal: str, vector: np.ndarray, with_vectors: bool = True) -> dict[str, Any]:
    if signal == "text":
        query: dict[str, Any] = {"knn": {"text_vector": {"vector": vector.tolist(), "k": CANDIDATES + 1}}}
    else:
        query = {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector.tolist(), "k": CANDIDATES + 1}}}}}
    return {"size": CANDIDATES + 1, "_source": _FIELDS if with_vectors else ["category", "tags"], "query": query}
