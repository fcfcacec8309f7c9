"""``lookalike bench views``: what gallery views cost a catalogue of thousands of products.

The same Fashion-MNIST catalogue is indexed once per set of gallery views (none, the
baseline; ``small``; the two rotations with ``small``), each under an alias of its own that
later runs reuse. For each index, in one run and on the same query photos:

* the image vectors it holds, its size on disk and, when built in this run, its ingest time;
* the product's image-signal k-NN search alone (the 100-candidate window, graph breadth
  ``LOOKALIKE_KNN_EF_SEARCH``), its p50 and p99, the indices taken in turn for each query so
  that drift on a shared machine falls on all of them alike;
* recall@100 of that window against exact search over the same vectors.

``object`` is left out: Fashion-MNIST's 28-pixel photos are too small for the detector to cut
anything out of them, so the index would be the baseline's.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation.catalogues import index_cost, indexed_gallery_views
from evaluation.report import write_json
from evaluation.searchers import ExactSearch
from ingest import run_catalogue
from plugin.config import Config
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.indices import indices_behind
from plugin.search.request import WINDOW
from sample_data.fashion_mnist import load_split, write_catalogue

#: The sets timed, the baseline first.
VIEW_SETS: tuple[tuple[str, ...], ...] = ((), ("small",), ("rotate_45", "rotate_315", "small"))


def run(config: Config, products: int, queries: int, report: Path) -> dict[str, Any]:
    catalogue = write_catalogue(config.data_dir / "fashion-mnist", products)
    root = catalogue.parent / "png"
    client = connect(config)
    indices: dict[str, dict[str, Any]] = {}
    for views in VIEW_SETS:
        name = "+".join(views) or "none"
        alias = f"bench-views-{name.replace('+', '-')}-{products}"
        set_config = dataclasses.replace(
            config, index_alias=alias, gallery_views=views, fetch=dataclasses.replace(config.fetch, local_roots=(root,))
        )
        seconds = _ingest_once(set_config, catalogue, products)
        cost = index_cost(client, alias, seconds or 0.0)
        cost["ingest_seconds"] = None if seconds is None else cost["ingest_seconds"]
        indices[name] = {"alias": alias, "index": cost, "exact": ExactSearch.load(client, alias)}

    backend = backend_for(config)
    test_images, _ = load_split("t10k")
    picks = np.random.default_rng(2).choice(len(test_images), size=queries, replace=False)
    vectors = backend.embed_images([Image.fromarray(test_images[i]).convert("RGB") for i in picks])
    ef = max(WINDOW, config.knn_ef_search)
    timings: dict[str, list[float]] = {name: [] for name in indices}
    found: dict[str, list[float]] = {name: [] for name in indices}
    names = list(indices)
    for number, vector in enumerate(vectors):
        knn = {"vector": vector.tolist(), "k": WINDOW, "method_parameters": {"ef_search": ef}}
        body = {"size": WINDOW, "_source": False, "query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": knn}}}}}
        for name in names[number % len(names) :] + names[: number % len(names)]:
            started = time.perf_counter()
            hits = client.search(index=indices[name]["alias"], body=body)["hits"]["hits"]
            timings[name].append((time.perf_counter() - started) * 1000)
            exact: ExactSearch = indices[name]["exact"]
            best = {exact.product_ids[j] for j in np.argpartition(-exact.product_scores(vector), WINDOW)[:WINDOW]}
            found[name].append(len(best & {hit["_id"] for hit in hits}) / WINDOW)

    baseline = float(np.median(timings["none"]))
    result = {
        "benchmark": "views",
        "catalogue_size": products,
        "queries": queries,
        "window": WINDOW,
        "ef_search": ef,
        "sets": {
            name: {
                **indices[name]["index"],
                "knn_ms_p50": round(float(np.median(timings[name])), 2),
                "knn_ms_p99": round(float(np.percentile(timings[name], 99)), 2),
                "knn_p50_to_none": round(float(np.median(timings[name])) / baseline, 2),
                "recall_at_100": round(float(np.mean(found[name])), 4),
            }
            for name in names
        },
        "machine": {"cpus": os.cpu_count()},
        "command": f"lookalike bench views --products {products} --queries {queries}",
    }
    write_json(report, result)
    return result


def _ingest_once(config: Config, catalogue: Path, products: int) -> float | None:
    """Index *catalogue* with the configured views unless an index of it already has them; the seconds it took, or None."""
    client = connect(config)
    if indices_behind(client, config.index_alias) and client.count(index=config.index_alias)["count"] == products:
        if indexed_gallery_views(client, config.index_alias) == config.gallery_views:
            return None
    client.indices.delete(index=f"{config.index_alias}-*", expand_wildcards="all", ignore_unavailable=True)
    started = time.perf_counter()
    run_catalogue(client, config, catalogue, eager=True, new_index=True)
    client.indices.refresh(index=config.index_alias)
    return time.perf_counter() - started
