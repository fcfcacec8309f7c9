"""``lookalike bench search``: latency through the HTTP API, and recall of the served results.

On a catalogue of Fashion-MNIST products (60,000 by default), in one run:

* p50/p95/p99 latency of photo, text and hybrid queries through the HTTP API (waitress),
  each query distinct so the query-embedding cache does not flatter the figures, and the
  median of each stage of them (decode, embed, signals, page, ...) as the API's
  ``Server-Timing`` header reports it;
* the model's own time to embed a query photo;
* the vector search alone: OpenSearch k-NN beside exact brute-force search over the same
  vectors in numpy (:class:`evaluation.searchers.ExactSearch`, the evaluation's own);
* recall@10 of the served photo results against exact search, with filters keeping 100%,
  10% (one class) and 1% (one ``bucket-N`` tag) of the products;
* the 100-candidate window's k-NN time and recall@100 with the graph search as broad as
  the window (Lucene's default) beside the breadth the product uses.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import OpenSearch, helpers
from PIL import Image

from evaluation.report import write_json
from evaluation.searchers import ExactSearch
from ingest import run_catalogue
from plugin.config import Config
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.indices import indices_behind
from plugin.search.request import WINDOW, Filters, Query
from plugin.search.service import search
from plugin.timing import parse_header
from sample_data.fashion_mnist import CLASSES, load_split, write_catalogue

#: One request through the API: milliseconds on the client's clock, and the server's stages.
Timed = tuple[float, dict[str, float]]


def run(config: Config, products: int, queries: int, report: Path) -> dict[str, Any]:
    catalogue = write_catalogue(config.data_dir / "fashion-mnist", products)
    root = catalogue.parent / "png"
    alias = f"bench-search-{products}"
    bench_config = dataclasses.replace(config, index_alias=alias, fetch=dataclasses.replace(config.fetch, local_roots=(root,)))
    client = connect(bench_config)
    ingest_once(client, bench_config, catalogue, products)
    backend = backend_for(bench_config)

    test_images, _ = load_split("t10k")
    rng = np.random.default_rng(1)
    picks = rng.choice(len(test_images), size=queries, replace=False)
    photos = [Image.fromarray(test_images[i]).convert("RGB") for i in picks]
    uploads = [png(photo) for photo in photos]
    texts = [f"{CLASSES[i % 10].lower()} {word}" for i, word in enumerate(words(queries))]

    embed_ms = []
    vectors = []
    for photo in photos:
        started = time.perf_counter()
        vectors.append(backend.embed_images([photo])[0])
        embed_ms.append((time.perf_counter() - started) * 1000)

    exact = ExactSearch.load(client, alias)
    categories, tags = _filter_fields(client, alias, exact.product_ids)
    exact_ms, knn_ms = [], []
    for vector in vectors:
        started = time.perf_counter()
        np.argpartition(-exact.product_scores(vector), 10)[:10]  # the ten best, unordered: the least exact search must do
        exact_ms.append((time.perf_counter() - started) * 1000)
        # OpenSearch's k-NN alone, without the product's fusion and fetch, beside exact search alone.
        body = {"size": 10, "_source": False, "query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector.tolist(), "k": 10}}}}}}
        started = time.perf_counter()
        client.search(index=alias, body=body)
        knn_ms.append((time.perf_counter() - started) * 1000)

    recall = {}
    for selectivity, make_filter in (
        ("1.0", lambda i: (Filters(), np.ones(len(exact.product_ids), bool))),
        ("0.1", lambda i: (Filters(category=f"Fashion > {CLASSES[i % 10]}"), categories == f"Fashion > {CLASSES[i % 10]}")),
        ("0.01", lambda i: (Filters(tags_any=(f"bucket-{i % 100}",)), tags == f"bucket-{i % 100}")),
    ):
        found = []
        for i, vector in enumerate(vectors):
            filters, mask = make_filter(i)
            scores = np.where(mask, exact.product_scores(vector), -np.inf)
            best = {exact.product_ids[j] for j in np.argsort(-scores)[:10]}
            served = search(client, alias, Query(image_vector=vector.tolist(), weights={"image": 1.0}, filters=filters, size=10))
            found.append(len(best & {hit["product_id"] for hit in served.hits}) / 10)
        recall[selectivity] = round(float(np.mean(found)), 4)

    breadth = _graph_breadth(client, alias, exact, vectors, config.knn_ef_search)
    latency, stages = _http_latencies(bench_config, uploads, texts)
    result = {
        "benchmark": "search",
        "catalogue_size": len(exact.product_ids),
        "queries": queries,
        "latency_ms": latency,
        "stages_ms_p50": stages,
        "embed_photo_ms_p50": round(float(np.median(embed_ms)), 2),
        "exact_search_ms_p50": round(float(np.median(exact_ms)), 2),
        "knn_search_ms_p50": round(float(np.median(knn_ms)), 2),
        "recall_at_10": recall,
        "window_search": breadth,
        "photo_p50_minus_embed_p50_ms": round(latency["photo"]["p50"] - float(np.median(embed_ms)), 2),
        "model": backend.spec.name,
        "machine": {"cpus": os.cpu_count()},
        "command": f"lookalike bench search --products {products} --queries {queries}",
    }
    write_json(report, result)
    return result


def _graph_breadth(client: OpenSearch, alias: str, exact: ExactSearch, vectors: list[np.ndarray], ef_search: int) -> dict[str, Any]:
    """A photo's 100-candidate window from k-NN with the graph search as broad as the window (Lucene's
    default) and as broad as the product searches (``LOOKALIKE_KNN_EF_SEARCH``): time and recall@100 against exact search."""
    out: dict[str, Any] = {}
    for name, ef in (("ef_equals_window", WINDOW), ("ef_search", max(WINDOW, ef_search))):
        ms, found = [], []
        for vector in vectors:
            knn = {"vector": vector.tolist(), "k": WINDOW, "method_parameters": {"ef_search": ef}}
            body = {"size": WINDOW, "_source": False, "query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": knn}}}}}
            started = time.perf_counter()
            hits = client.search(index=alias, body=body)["hits"]["hits"]
            ms.append((time.perf_counter() - started) * 1000)
            best = {exact.product_ids[j] for j in np.argpartition(-exact.product_scores(vector), WINDOW)[:WINDOW]}
            found.append(len(best & {hit["_id"] for hit in hits}) / WINDOW)
        out[name] = {"ef_search": ef, "ms_p50": round(float(np.median(ms)), 2), "recall_at_100": round(float(np.mean(found)), 4)}
    return out


def ingest_once(client: OpenSearch, config: Config, catalogue: Path, products: int) -> None:
    """The benchmark catalogue is ingested once and kept under its own alias for later runs."""
    live = indices_behind(client, config.index_alias)
    if live and client.count(index=config.index_alias)["count"] >= products:
        return
    run_catalogue(client, config, catalogue, eager=True)


def _filter_fields(client: OpenSearch, alias: str, product_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each product's category and first tag, in *product_ids* order, to filter exact search as the query is filtered."""
    fields: dict[str, tuple[str, str]] = {}
    for hit in helpers.scan(client, index=alias, query={"_source": ["category", "tags"]}, size=1000):
        source = hit["_source"]
        fields[hit["_id"]] = (source.get("category", ""), (source.get("tags") or [""])[0])
    categories, tags = zip(*(fields[product_id] for product_id in product_ids))
    return np.asarray(categories), np.asarray(tags)


def _http_latencies(config: Config, uploads: list[bytes], texts: list[str]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """p50/p95/p99 of each kind of query through the API, and the median of each of its stages (``Server-Timing``)."""
    from waitress.server import create_server

    from api.app import create_app

    server = create_server(create_app(config), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    try:
        for i in range(5):  # warm up the server, not the cache: these photos are not measured
            _post_multipart(base, png(Image.new("RGB", (28, 28), (i * 40, 0, 0))), f"warm up {i}")
        timings: dict[str, list[Timed]] = {"photo": [], "text": [], "hybrid": []}
        for i, (photo, text) in enumerate(zip(uploads, texts)):
            timings["photo"].append(_post_multipart(base, photo, None))
            timings["text"].append(_post_json(base, {"text": text, "size": 10}))
            hybrid_photo = png(Image.open(io.BytesIO(photo)).transpose(Image.FLIP_LEFT_RIGHT))  # a new photo, not cached
            timings["hybrid"].append(_post_multipart(base, hybrid_photo, f"{text} {i}"))
    finally:
        server.close()
    latency = {
        name: {p: round(float(np.percentile([ms for ms, _ in timed], int(p[1:]))), 2) for p in ("p50", "p95", "p99")}
        for name, timed in timings.items()
    }
    return latency, {name: stage_medians([stages for _, stages in timed]) for name, timed in timings.items()}


def stage_medians(requests: list[dict[str, float]]) -> dict[str, float]:
    """The median of each stage over *requests*, in the order the stages ran.

    A stage a request did not run (a page found without a fetch, a cached photo) counts as
    0 ms for it, so the medians describe the typical request.
    """
    names = list(dict.fromkeys(name for stages in requests for name in stages))
    return {name: round(float(np.median([stages.get(name, 0.0) for stages in requests])), 2) for name in names}


def _post_multipart(base: str, photo: bytes, text: str | None) -> Timed:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="q.png"\r\nContent-Type: image/png\r\n\r\n'.encode() + photo + b"\r\n"]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="size"\r\n\r\n10\r\n'.encode())
    if text:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'.encode())
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/search", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return _timed(request)


def _post_json(base: str, payload: dict[str, Any]) -> Timed:
    request = urllib.request.Request(f"{base}/search", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    return _timed(request)


def _timed(request: urllib.request.Request) -> Timed:
    """The request's round trip in milliseconds, and its stages as the API's ``Server-Timing`` header gives them."""
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (our own local server)
        response.read()
        if response.status != 200:
            raise RuntimeError(f"search answered {response.status}")
    return (time.perf_counter() - started) * 1000, parse_header(response.headers.get("Server-Timing", ""))


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def words(count: int) -> list[str]:
    vocabulary = ["black", "white", "red", "blue", "cotton", "leather", "casual", "summer", "winter", "classic", "slim", "loose"]
    return [f"{vocabulary[i % len(vocabulary)]} {vocabulary[(i * 7 + 3) % len(vocabulary)]} {i}" for i in range(count)]
