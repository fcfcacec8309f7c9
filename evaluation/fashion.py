"""Fashion-MNIST class retrieval: a photo of a garment should bring back garments of its class.

The catalogue is *catalogue_size* training images, the queries *queries* test images (both
drawn with a seed); every catalogue product of the query's class counts as relevant. The
figures are computed for the API's answers (served) and for exact search with the same
query vectors (exact), so the report shows what the served path loses against the model.
The class names typed as words are measured too, the default fusion beside each signal alone.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from evaluation.catalogues import eval_config, ingest_for_evaluation
from evaluation.metrics import average_precision_at, hit_at, mean, ndcg_at, precision_at
from evaluation.searchers import ExactSearch, ServedSearch
from evaluation.signals import TEXT_CONFIGS, JudgedText, measure
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from sample_data.fashion_mnist import CLASSES, load_split, write_catalogue

DEPTH = 100


def evaluate_fashion(
    config: Config,
    backend: EmbeddingBackend | None = None,
    *,
    catalogue_size: int = 10_000,
    queries: int = 1_000,
    seed: int = 0,
    rebuild: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Run the evaluation and return its figures; an index of this catalogue and model is reused unless *rebuild*."""
    backend = backend or backend_for(config)
    catalogue = write_catalogue(config.data_dir / "fashion-mnist", catalogue_size, seed=seed)
    config = eval_config(config, f"eval-fashion-{catalogue_size}-seed{seed}", (catalogue.parent,))
    client = connect(config)
    started = time.perf_counter()
    indexed = ingest_for_evaluation(client, config, catalogue, backend, rebuild=rebuild)
    progress(f"{indexed} products ready in {time.perf_counter() - started:.1f} s")
    served = ServedSearch(config, backend)
    exact = ExactSearch.load(client, config.index_alias)
    train_labels = load_split("train")[1]
    product_class = {product_id: int(train_labels[int(product_id.rsplit("-", 1)[1])]) for product_id in exact.product_ids}
    members: dict[int, dict[str, float]] = {}
    for product_id, label in product_class.items():
        members.setdefault(label, {})[product_id] = 1.0

    images, labels = load_split("t10k")
    chosen = np.random.default_rng(seed).choice(len(images), size=min(queries, len(images)), replace=False)
    figures: dict[str, dict[str, list[float]]] = {"served": {}, "exact": {}}
    for done, index in enumerate(chosen, start=1):
        buffer = io.BytesIO()
        Image.fromarray(images[index]).save(buffer, format="PNG")
        relevant = members.get(int(labels[index]), {})
        rankings = {
            "served": served.by_photo(buffer.getvalue(), size=DEPTH),
            "exact": exact.by_photo(served.query_vector(buffer.getvalue()), DEPTH),
        }
        for path, ranked in rankings.items():
            for metric, value in _metrics(ranked, relevant).items():
                figures[path].setdefault(metric, []).append(value)
        if done % 250 == 0:
            progress(f"{done} queries: served precision@10 {mean(figures['served']['precision_at_10']):.4f}")
    return {
        "description": f"{indexed} training images as the catalogue, {len(chosen)} test images as queries (seed {seed}); "
        f"relevant: the catalogue's products of the query's class ({len(CLASSES)} classes)",
        "catalogue": {"products": indexed, "queries": len(chosen), "seed": seed, "gallery_views": list(config.gallery_views)},
        "served": {metric: round(mean(values), 4) for metric, values in figures["served"].items()},
        "exact": {metric: round(mean(values), 4) for metric, values in figures["exact"].items()},
        "latency_ms": {"query_median": float(np.median(served.latencies_ms))},
        # Each class's name typed as words ("Ankle boot"): every product of the class is relevant.
        "text": measure(served, [JudgedText(name, members.get(label, {})) for label, name in enumerate(CLASSES)], TEXT_CONFIGS),
    }


def _metrics(ranked: list[str], relevant: dict[str, float]) -> dict[str, float]:
    return {
        "precision_at_10": precision_at(ranked, relevant, 10),
        "map_at_100": average_precision_at(ranked, relevant, DEPTH),
        "ndcg_at_10": ndcg_at(ranked, relevant, 10),
        "recall_at_1": hit_at(ranked, relevant, 1),
    }
