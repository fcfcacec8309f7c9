"""``lookalike bench scale``: a million products on one node, each index layout beside exact search.

The catalogue is made from real photos' vectors, not uniform random ones (whose
neighbourhoods look nothing like photos'):

* **Base photos**: ``--base`` Fashion-MNIST training photos (seed 0), embedded once by the
  product's model and cached under ``$LOOKALIKE_DATA_DIR/bench-scale``.
* **Products**: product *i* is ``normalise((1 - t) * a + t * b + e)``: ``a`` and ``b`` two base
  vectors drawn at random, ``t`` uniform in [0, 0.35] (so ``a`` dominates and the product
  is a variant of a real photo), ``e`` Gaussian noise of norm about 0.1. Its category is
  ``a``'s class (10% of the products each) and it carries one of 100 ``bucket-N`` tags drawn
  at random (1% each). Everything is seeded per chunk, so each variant indexes exactly the
  same products and a rerun makes them again.
* **Queries**: Fashion-MNIST *test* photos (never a base photo), embedded by the same model;
  the 10% filter is the query photo's own class, the 1% filter a random bucket.

Each variant is a product index made from the product's own mapping (version and settings as
``lookalike index create`` makes them), with only the image vector's field changed, filled
with the product's own documents (:func:`~plugin.opensearch.documents.product_document`) by
the same bulk helper ingest writes with; queries are the product's own image signal
(:func:`~plugin.search.builder.signal_queries`). Exact search is brute force over the same
float vectors in numpy, computed while the vectors are made. An index already holding all its
products is kept and reused, so a second run measures again without rebuilding.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import OpenSearch, helpers
from PIL import Image

from evaluation.report import write_json
from plugin.catalogue.reader import Product
from plugin.config import Config
from plugin.models.base import EmbeddingBackend, EmbeddingSpec
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.documents import hit_id, image_entry, product_document
from plugin.opensearch.indices import (
    apply_search_settings,
    indices_behind,
    product_index_body,
    swap_alias,
    versioned_index_name,
)
from plugin.search.builder import signal_queries
from plugin.search.request import WINDOW, Filters, Query
from sample_data.fashion_mnist import CLASSES, load_split

CHUNK = 20_000
BULK_CHUNK = 500
MIX_AT_MOST = 0.35
NOISE_NORM = 0.1
BUCKETS = 100
KS = (10, 100)
SELECTIVITIES = ("1.0", "0.1", "0.01")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One layout of the image vectors: dimensions kept, quantisation and graph parameters."""

    name: str
    #: Dimensions kept by a projection learnt from the base photos (PCA); None keeps the model's.
    dims: int | None = None
    #: Lucene's built-in scalar quantisation (7 bits) of the stored vectors.
    sq: bool = False
    m: int = 16
    ef_construction: int = 128

    def describe(self) -> str:
        parts = [f"{self.dims} dims (PCA)" if self.dims else "model's dims", "sq 7-bit" if self.sq else "float32"]
        return ", ".join(parts + [f"m={self.m}", f"ef_construction={self.ef_construction}"])


VARIANTS = {
    "float": Variant("float"),
    "sq": Variant("sq", sq=True),
    "pca256": Variant("pca256", dims=256),
    "pca256-sq": Variant("pca256-sq", dims=256, sq=True),
    "pca512": Variant("pca512", dims=512),
}
#: HNSW search breadths tried on the first variant, unfiltered: a lever that needs no rebuild.
EF_SWEEP = (100, 256, 512)
#: Client threads sending k-NN queries at once when concurrent segment search is weighed:
#: one shopper's latency, and the node's throughput once every core is busy.
SEGMENT_SEARCH_CLIENTS = (1, 4)



@dataclasses.dataclass
class Truth:
    """Exact top-100 product numbers per query and filter, over the model's float vectors."""

    best: dict[str, np.ndarray]  # selectivity -> (queries, 100) product numbers, best first
    scores: dict[str, np.ndarray]  # their cosines; -inf where fewer than 100 products pass the filter
    exact_ms: list[float]

    def expected(self, selectivity: str, query: int, k: int) -> set[str]:
        """The exact top *k* product ids, fewer when fewer products pass the filter."""
        kept = np.isfinite(self.scores[selectivity][query, :k])
        return {f"p{n}" for n in self.best[selectivity][query, :k][kept]}


def run(config: Config, products: int, queries: int, base: int, variants: list[str], api_queries: int, report: Path) -> dict[str, Any]:
    reduced = max(VARIANTS[name].dims or 0 for name in variants)
    if reduced > base:
        raise ValueError(f"a projection to {reduced} dimensions is learnt from at least as many base photos; use --base {reduced} or more")
    backend = backend_for(config)
    spec = backend.spec
    base_vectors, base_labels = _base(config, backend, base)
    query_vectors, query_labels, query_photos = _queries(backend, queries)
    rng = np.random.default_rng(99)
    query_buckets = rng.integers(BUCKETS, size=queries)
    projection = _pca(base_vectors, reduced)
    truth = _exact(base_vectors, base_labels, products, query_vectors, query_labels, query_buckets)
    client = connect(config)
    result: dict[str, Any] = {
        "benchmark": "scale",
        "products": products,
        "queries": queries,
        "base_photos": base,
        "model": f"{spec.name} v{spec.version}",
        "image_dims": spec.image_dims,
        "how_made": __doc__.split("The catalogue is made", 1)[1].split("Each variant", 1)[0].strip(),
        "exact_ms_p50": round(float(np.median(truth.exact_ms)), 1),
        "variants": {},
        "machine": {"cores": os.cpu_count()},
        "command": f"lookalike bench scale --products {products} --queries {queries} --variants {','.join(variants)}",
    }
    for name in variants:
        variant = VARIANTS[name]
        alias = f"bench-scale-{products}-{name}"
        build = _build(client, config, spec, variant, alias, base_vectors, base_labels, products, projection)
        queries_of = query_vectors if variant.dims is None else _project(query_vectors, projection, variant.dims)
        measured = _measure(client, alias, queries_of, query_labels, query_buckets, truth, config.knn_ef_search)
        if name == variants[0]:
            measured["ef_search_sweep"] = _ef_sweep(client, alias, queries_of, truth)
            measured["segment_search"] = _segment_search(client, config, alias, queries_of)
        result["variants"][name] = {"layout": variant.describe(), **measured, **build, **_footprint(client, alias)}
        write_json(report, result)
    default = variants[0]
    if api_queries and VARIANTS[default].dims is None:
        api_config = dataclasses.replace(config, index_alias=f"bench-scale-{products}-{default}")
        result["api_photo_ms"] = _api_latency(api_config, backend, query_photos[:api_queries])
        result["api_variant"] = default
    result["node"] = _node_memory(client)
    write_json(report, result)
    return result


# -- the catalogue's vectors --------------------------------------------------------------------


def _base(config: Config, backend: EmbeddingBackend, count: int) -> tuple[np.ndarray, np.ndarray]:
    """*count* training photos' vectors and classes, embedded once and cached."""
    cache = config.data_dir / "bench-scale" / f"base-{backend.spec.name}-v{backend.spec.version}-{count}.npz"
    if cache.is_file():
        stored = np.load(cache)
        return stored["vectors"], stored["labels"]
    images, labels = load_split("train")
    picks = np.random.default_rng(0).choice(len(images), size=count, replace=False)
    vectors = _embed(backend, [Image.fromarray(images[i]).convert("RGB") for i in picks])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=vectors, labels=labels[picks])
    return vectors, labels[picks]


def _queries(backend: EmbeddingBackend, count: int) -> tuple[np.ndarray, np.ndarray, list[Image.Image]]:
    images, labels = load_split("t10k")
    picks = np.random.default_rng(1).choice(len(images), size=count, replace=False)
    photos = [Image.fromarray(images[i]).convert("RGB") for i in picks]
    return _embed(backend, photos), labels[picks], photos


def _embed(backend: EmbeddingBackend, photos: list[Image.Image]) -> np.ndarray:
    return np.concatenate([np.asarray(backend.embed_images(photos[i : i + 32]), np.float32) for i in range(0, len(photos), 32)])


def chunks(base_vectors: np.ndarray, base_labels: np.ndarray, products: int) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """``(first product number, vectors, classes, buckets)`` of each chunk of the catalogue, the same on every call."""
    for first in range(0, products, CHUNK):
        n = min(CHUNK, products - first)
        rng = np.random.default_rng((7, first))
        a, b = rng.integers(len(base_vectors), size=n), rng.integers(len(base_vectors), size=n)
        t = rng.uniform(0.0, MIX_AT_MOST, size=(n, 1)).astype(np.float32)
        noise = rng.normal(0.0, NOISE_NORM / np.sqrt(base_vectors.shape[1]), size=(n, base_vectors.shape[1])).astype(np.float32)
        vectors = (1 - t) * base_vectors[a] + t * base_vectors[b] + noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        yield first, vectors, base_labels[a], rng.integers(BUCKETS, size=n)


def _pca(base_vectors: np.ndarray, dims: int) -> np.ndarray | None:
    """The base photos' principal directions, ``(dims, model dims)``: a projection learnt from the catalogue."""
    if not dims:
        return None
    centred = base_vectors - base_vectors.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return directions[:dims].astype(np.float32)


def _project(vectors: np.ndarray, projection: np.ndarray | None, dims: int) -> np.ndarray:
    assert projection is not None
    projected = vectors @ projection[:dims].T
    return projected / np.linalg.norm(projected, axis=1, keepdims=True)


def _exact(
    base_vectors: np.ndarray, base_labels: np.ndarray, products: int, query_vectors: np.ndarray, query_labels: np.ndarray, query_buckets: np.ndarray
) -> Truth:
    """Exact top-100 per query under each filter, and one query's brute-force time over the whole catalogue."""
    best = {s: np.empty((len(query_vectors), 0), np.int64) for s in SELECTIVITIES}
    scores_kept = {s: np.empty((len(query_vectors), 0), np.float32) for s in SELECTIVITIES}
    timed = min(20, len(query_vectors))
    exact_ms = np.zeros(timed)
    for first, vectors, labels, buckets in chunks(base_vectors, base_labels, products):
        for q in range(timed):  # one query at a time, as a shopper's search would run it
            started = time.perf_counter()
            np.argpartition(-(vectors @ query_vectors[q]), 10)[:10]
            exact_ms[q] += (time.perf_counter() - started) * 1000
        scores = query_vectors @ vectors.T
        masks = {
            "1.0": np.ones_like(scores, dtype=bool),
            "0.1": labels[None, :] == query_labels[:, None],
            "0.01": buckets[None, :] == query_buckets[:, None],
        }
        numbers = np.arange(first, first + len(vectors))
        for s, mask in masks.items():
            masked = np.where(mask, scores, -np.inf).astype(np.float32)
            all_scores = np.concatenate([scores_kept[s], masked], axis=1)
            all_numbers = np.concatenate([best[s], np.broadcast_to(numbers, masked.shape)], axis=1)
            keep = np.argsort(-all_scores, axis=1)[:, :WINDOW]
            scores_kept[s] = np.take_along_axis(all_scores, keep, axis=1)
            best[s] = np.take_along_axis(all_numbers, keep, axis=1)
    return Truth(best=best, scores=scores_kept, exact_ms=list(exact_ms))


# -- the index --------------------------------------------------------------------------------


def _build(
    client: OpenSearch,
    config: Config,
    spec: EmbeddingSpec,
    variant: Variant,
    alias: str,
    base_vectors: np.ndarray,
    base_labels: np.ndarray,
    products: int,
    projection: np.ndarray | None,
) -> dict[str, Any]:
    """Fill the variant's index unless a complete one made the same way is already behind its alias; its build time either way."""
    made = {"base_photos": len(base_vectors), "model": f"{spec.name} v{spec.version}", **dataclasses.asdict(variant)}
    live = indices_behind(client, alias)
    if live and client.count(index=alias)["count"] == products:
        meta = client.indices.get_mapping(index=live[0])[live[0]]["mappings"].get("_meta", {})
        if meta.get("bench_made") == made:
            apply_search_settings(client, config, live[0])
            return {"index_seconds": meta.get("bench_index_seconds"), "reused_index": True}
    # Indices of this alias not behind it are a build that was interrupted: they only take disk.
    for stale in client.indices.get(index=f"{alias}-v*", expand_wildcards="all", ignore_unavailable=True):
        if stale not in live:
            client.indices.delete(index=stale)
    bench_config = dataclasses.replace(config, index_alias=alias)
    variant_spec = dataclasses.replace(spec, image_dims=variant.dims or spec.image_dims)
    body = product_index_body(bench_config, variant_spec)
    field = body["mappings"]["properties"]["images"]["properties"]["vector"]
    field["method"]["parameters"] |= {"m": variant.m, "ef_construction": variant.ef_construction}
    if variant.sq:
        field["method"]["parameters"]["encoder"] = {"name": "sq"}
    # Segments as large as the heap allows while filling; merging rebuilds HNSW graphs.
    body["settings"]["index"] = body["settings"].get("index", {}) | {"refresh_interval": "60s"}
    index = versioned_index_name(alias)
    client.indices.create(index=index, body=body)
    started = time.perf_counter()
    for first, vectors, labels, buckets in chunks(base_vectors, base_labels, products):
        if variant.dims:
            vectors = _project(vectors, projection, variant.dims)
        _, errors = helpers.bulk(
            client, _actions(index, spec, first, vectors, labels, buckets), chunk_size=BULK_CHUNK, request_timeout=300, raise_on_error=False
        )
        if errors:
            reason = next(iter(errors[0].values())).get("error")
            raise RuntimeError(f"{len(errors)} products of the benchmark were refused by {index}, the first for: {reason}")
    client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=index, request_timeout=3600)
    seconds = round(time.perf_counter() - started, 1)
    meta = body["mappings"].get("_meta", {}) | {"bench_index_seconds": seconds, "bench_made": made}
    client.indices.put_mapping(index=index, body={"_meta": meta})
    for stale in swap_alias(client, alias, index):
        client.indices.delete(index=stale)
    return {"index_seconds": seconds, "reused_index": False}


def _actions(index: str, spec: EmbeddingSpec, first: int, vectors: np.ndarray, labels: np.ndarray, buckets: np.ndarray) -> Iterator[dict[str, Any]]:
    for offset, (vector, label, bucket) in enumerate(zip(vectors, labels, buckets)):
        number = first + offset
        url = f"bench://scale/{number}.png"
        product = Product(
            id=f"p{number}", title=f"{CLASSES[label]} {number}", category=("Fashion", CLASSES[label]), tags=(f"bucket-{bucket}",), images=(url,)
        )
        entry = image_entry(url, 0, f"{number:064x}", f"{number:016x}", (28, 28), [], vector)
        document = product_document(product, [entry], None, "", spec)
        yield {"_op_type": "index", "_index": index, "_id": product.id, "_source": document}


# -- measuring --------------------------------------------------------------------------------


def _measure(
    client: OpenSearch, alias: str, vectors: np.ndarray, labels: np.ndarray, buckets: np.ndarray, truth: Truth, ef_search: int
) -> dict[str, Any]:
    """k-NN time and recall at k = 10 and 100 under each filter, the product's own image query."""
    filters = {
        "1.0": lambda q: Filters(),
        "0.1": lambda q: Filters(category=f"Fashion > {CLASSES[labels[q]]}"),
        "0.01": lambda q: Filters(tags_any=(f"bucket-{buckets[q]}",)),
    }
    for q in range(min(20, len(vectors))):  # warm the graph and the vectors into memory
        _knn(client, alias, vectors[q], Filters(), 10, ef_search)
    ms: dict[str, dict[str, list[float]]] = {str(k): {s: [] for s in SELECTIVITIES} for k in KS}
    recall: dict[str, dict[str, list[float]]] = {str(k): {s: [] for s in SELECTIVITIES} for k in KS}
    for s, make_filter in filters.items():
        for k in KS:
            for q in range(len(vectors)):
                took, found = _knn(client, alias, vectors[q], make_filter(q), k, ef_search)
                expected = truth.expected(s, q, k)
                ms[str(k)][s].append(took)
                recall[str(k)][s].append(len(expected & set(found[:k])) / max(1, len(expected)))
    at = {k: {s: round(float(np.mean(v)), 4) for s, v in per.items()} for k, per in recall.items()}
    timing = {
        k: {s: {"p50": round(float(np.percentile(v, 50)), 2), "p99": round(float(np.percentile(v, 99)), 2)} for s, v in per.items()}
        for k, per in ms.items()
    }
    return {
        "recall_at_10": at["10"],
        "recall_at_100": at["100"],
        "knn_ms_p50": timing["10"]["1.0"]["p50"],
        "knn_ms_p99": timing["10"]["1.0"]["p99"],
        "knn_ms": timing,
        "ef_search": ef_search,
    }


def _ef_sweep(client: OpenSearch, alias: str, vectors: np.ndarray, truth: Truth) -> dict[str, Any]:
    """Unfiltered k = 10 and the 100-candidate window at each breadth of :data:`EF_SWEEP`: recall and p50."""
    out: dict[str, Any] = {}
    for ef in EF_SWEEP:
        row: dict[str, Any] = {}
        for k in KS:
            ms, found = [], []
            for q in range(len(vectors)):
                took, hits = _knn(client, alias, vectors[q], Filters(), k, ef)
                ms.append(took)
                found.append(len(truth.expected("1.0", q, k) & set(hits[:k])) / k)
            row[f"k{k}"] = {"recall": round(float(np.mean(found)), 4), "ms_p50": round(float(np.median(ms)), 2)}
        out[str(ef)] = row
    return out


def _segment_search(client: OpenSearch, config: Config, alias: str, vectors: np.ndarray) -> dict[str, Any]:
    """Unfiltered k = 10 with concurrent segment search off (the previous runtime) and as configured.

    Per mode and number of client threads: p50, p99 and queries per second. The configured
    mode is put back on the index afterwards.
    """
    index = indices_behind(client, alias)[0]
    out: dict[str, Any] = {}
    try:
        for mode in dict.fromkeys(("none", config.segment_search)):
            apply_search_settings(client, dataclasses.replace(config, segment_search=mode), index)
            out[mode] = {}
            for clients in SEGMENT_SEARCH_CLIENTS:

                def ask(q: int) -> float:
                    return _knn(client, alias, vectors[q % len(vectors)], Filters(), 10, config.knn_ef_search)[0]

                with ThreadPoolExecutor(clients) as pool:
                    list(pool.map(ask, range(20)))
                    started = time.perf_counter()
                    ms = list(pool.map(ask, range(max(len(vectors), 100))))
                    seconds = time.perf_counter() - started
                out[mode][str(clients)] = {
                    "p50": round(float(np.percentile(ms, 50)), 2),
                    "p99": round(float(np.percentile(ms, 99)), 2),
                    "qps": round(len(ms) / seconds, 1),
                }
    finally:
        apply_search_settings(client, config, index)
    return out


def _knn(client: OpenSearch, alias: str, vector: np.ndarray, filters: Filters, k: int, ef_search: int) -> tuple[float, list[str]]:
    query = Query(image_vector=vector.tolist(), filters=filters, window=k, size=min(k, 20), ef_search=ef_search, weights={"image": 1.0})
    body = signal_queries(query)["image"]
    started = time.perf_counter()
    hits = client.search(index=alias, body=body)["hits"]["hits"]
    return (time.perf_counter() - started) * 1000, [hit_id(hit) for hit in hits]


def _footprint(client: OpenSearch, alias: str) -> dict[str, Any]:
    """Disk in all, and the vector files by kind: what must sit in memory for the graph search to be fast."""
    stats = client.indices.stats(index=alias, metric="store,segments", params={"include_segment_file_sizes": "true"})
    index = next(iter(stats["indices"].values()))["primaries"]
    files = {name: entry["size_in_bytes"] for name, entry in index["segments"].get("file_sizes", {}).items()}
    # Lucene's vector files: .vec raw vectors, .veq quantised vectors, .vex the HNSW graph.
    searched = {ext: files.get(ext, 0) for ext in ("vec", "veq", "vex", "vemf", "vemq")}
    return {
        "index_bytes": index["store"]["size_in_bytes"],
        "segments": index["segments"]["count"],
        "vector_file_bytes": searched,
    }


def _node_memory(client: OpenSearch) -> dict[str, Any]:
    stats = client.nodes.stats(metric="jvm,os")
    node_id, node = next(iter(stats["nodes"].items()))
    pid = client.nodes.info(node_id=node_id, metric="process")["nodes"][node_id]["process"]["id"]
    return {
        "heap_used_bytes": node["jvm"]["mem"]["heap_used_in_bytes"],
        "heap_max_bytes": node["jvm"]["mem"]["heap_max_in_bytes"],
        "process_resident_bytes": _rss(pid),
        "machine_memory_bytes": node["os"]["mem"]["total_in_bytes"],
    }


def _rss(pid: int) -> int | None:
    """The node's resident memory (the JVM's heap plus the mapped vector files it has touched), when it runs here."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _api_latency(config: Config, backend: EmbeddingBackend, photos: list[Image.Image]) -> dict[str, float]:
    """A photo query end to end through the HTTP API at this scale: p50/p99 in milliseconds."""
    from bench.failover import serve_api, stop_api
    from bench.search_latency import _post_multipart, png

    server, base = serve_api(config, backend)
    try:
        for photo in photos[:5]:
            _post_multipart(base, png(photo.transpose(Image.FLIP_TOP_BOTTOM)), None)
        ms = [_post_multipart(base, png(photo), None)[0] for photo in photos]
    finally:
        stop_api(server)
    return {"p50": round(float(np.percentile(ms, 50)), 1), "p99": round(float(np.percentile(ms, 99)), 1), "queries": len(ms)}


def summary(result: dict[str, Any]) -> str:
    lines = [f"{result['products']:,} products, exact search p50 {result['exact_ms_p50']} ms:"]
    for name, v in result["variants"].items():
        lines.append(
            f"  {name}: recall@10 {json.dumps(v['recall_at_10'])}, k-NN p50 {v['knn_ms_p50']} ms p99 {v['knn_ms_p99']} ms, "
            f"{v['index_bytes'] / 2**30:.2f} GiB, indexed in {v['index_seconds']} s"
        )
        for mode, by_clients in v.get("segment_search", {}).items():
            rows = ", ".join(f"{n} client(s) p50 {r['p50']} ms {r['qps']} q/s" for n, r in by_clients.items())
            lines.append(f"    concurrent segment search {mode}: {rows}")
    if "api_photo_ms" in result:
        lines.append(f"  photo query through the API ({result['api_variant']}): {json.dumps(result['api_photo_ms'])} ms")
    return "\n".join(lines)
