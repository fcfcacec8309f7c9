"""Vendure robustness: does a degraded photo of a demo product find that product?

Each of the demo catalogue's 54 product photos, degraded each way of
:data:`evaluation.degradations.DEGRADATIONS`, is a query; the product is the one relevant
answer, among the 54 products and the distractor photos. Each query goes through the API
(served) and through exact search with the same vector (exact). Text queries (each
product's title, and its category's name) and degraded photos with their category's name
are measured for the default fusion beside each signal alone (:mod:`evaluation.signals`).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation.catalogues import index_among_distractors, index_cost
from evaluation.degradations import DEGRADATIONS, as_query_photo
from evaluation.metrics import hit_at, mean, reciprocal_rank
from evaluation.searchers import ExactSearch, ServedSearch, photo_bytes
from evaluation.signals import HYBRID_CONFIGS, TEXT_CONFIGS, JudgedText, measure
from plugin.config import Config
from plugin.images.decode import decode_image
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.search.query_vectors import embed_views
from sample_data.vendure import prepare_vendure

ALIAS = "eval-vendure"
#: View sets compared by exact search in the report (``--compare-views``), the served one included.
VIEW_SETS: tuple[tuple[str, ...], ...] = (
    ("original",),
    ("original", "hflip"),
    ("original", "centre_80"),
    ("original", "hflip", "centre_80"),
    ("original", "rot90", "rot270"),
)
#: Degraded photos searched again with their category's words: hard cases and easy ones, so
#: words that drag a right photo answer down show as surely as words that rescue a wrong one.
PHOTO_AND_WORDS = ("gaussian_blur", "rotate_45", "occlude_40", "brightness_1.8", "colour_cast", "downscale_64", "jpeg_10", "crop_50")
#: Where the photos of the queries that missed are drawn (not committed: the photos' licence
#: allows using them, not redistributing them).
MISSES_SHEET = "eval-vendure-misses.png"


def evaluate_vendure(
    config: Config,
    backend: EmbeddingBackend | None = None,
    *,
    degradations: tuple[str, ...] = tuple(DEGRADATIONS),
    compare_views: bool = False,
    words: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Run the evaluation and return the report's figures (see ``reports/eval-vendure.md`` for their meaning)."""
    backend = backend or backend_for(config)
    shop = prepare_vendure(config.data_dir)
    started = time.perf_counter()
    config, indexed = index_among_distractors(config, ALIAS, shop, backend)
    client = connect(config)
    cost = index_cost(client, config.index_alias, time.perf_counter() - started)
    progress(f"indexed {indexed} products ({cost['image_vectors']} image vectors) in {cost['ingest_seconds']:.1f} s")
    served = ServedSearch(config, backend)
    exact = ExactSearch.load(client, config.index_alias)
    products = [json.loads(line) for line in shop.read_text(encoding="utf-8").splitlines() if line.strip()]
    own_index = {product_id: i for i, product_id in enumerate(exact.product_ids)}

    rows: dict[str, dict[str, list[float]]] = {}
    misses: list[dict[str, str]] = []
    originals: dict[str, Image.Image] = {}  # each 1600 px JPEG decoded once, not once per degradation
    views_hits: dict[str, dict[str, list[float]]] = {"+".join(views): {} for views in VIEW_SETS}
    views_ms: dict[str, list[float]] = {"+".join(views): [] for views in VIEW_SETS}
    for name in ("original", *degradations):
        figures = rows.setdefault(name, {key: [] for key in ("served_at_1", "served_at_5", "served_rr", "exact_at_1", "exact_at_5", "cosine", "margin")})
        for product in products:
            query = photo_bytes(query_photo(product, name, originals))
            relevant = {product["id"]: 1.0}
            ranked = served.by_photo(query, size=5)
            if ranked[:1] != [product["id"]]:
                misses.append({"degradation": name, "product": product["id"], "first": ranked[0] if ranked else ""})
            vector = served.query_vector(query)
            scores = exact.product_scores(vector)
            order = [exact.product_ids[i] for i in np.argsort(-scores, kind="stable")[:5]]
            own = scores[own_index[product["id"]]]
            figures["served_at_1"].append(hit_at(ranked, relevant, 1))
            figures["served_at_5"].append(hit_at(ranked, relevant, 5))
            figures["served_rr"].append(reciprocal_rank(ranked, relevant))
            figures["exact_at_1"].append(hit_at(order, relevant, 1))
            figures["exact_at_5"].append(hit_at(order, relevant, 5))
            figures["cosine"].append(float(own))
            figures["margin"].append(float(own - np.max(np.delete(scores, own_index[product["id"]]))))
            if compare_views:
                image = decode_image(query, config.decode, source="query")
                for views in VIEW_SETS:
                    key = "+".join(views)
                    began = time.perf_counter()
                    candidate = embed_views(backend, image, views)
                    views_ms[key].append((time.perf_counter() - began) * 1000)
                    views_hits[key].setdefault(name, []).append(hit_at(exact.by_photo(candidate, 1), relevant, 1))
        progress(f"{name}: served recall@1 {mean(figures['served_at_1']):.3f}, exact {mean(figures['exact_at_1']):.3f}")
    photo_latencies = list(served.latencies_ms)
    hybrid = tuple(name for name in PHOTO_AND_WORDS if name in degradations)
    report = _photo_figures(rows, degradations)
    report.update(
        catalogue={"products": len(products), "distractors": indexed - len(products), "queries_per_degradation": len(products)},
        text=_text_figures(served, products, originals, hybrid) if words else {},
        photo_and_words_degradations=list(hybrid) if words else [],
        latency_ms={"photo_query_median": float(np.median(photo_latencies))},
        query_views=list(config.query_views),
        index=cost,
        misses=misses,
    )
    if compare_views:
        report["views"] = {
            key: {
                "exact_recall_at_1": {name: mean(hits[name]) for name in degradations},
                "mean_exact_recall_at_1": mean([mean(hits[name]) for name in degradations]),
                "embed_ms_median": float(np.median(views_ms[key])),
            }
            for key, hits in views_hits.items()
        }
    return report


def query_photo(product: dict[str, Any], degradation: str, originals: dict[str, Image.Image] | None = None) -> Image.Image:
    """The query photo for *product* under *degradation* (``original``: undegraded), the same every run."""
    originals = {} if originals is None else originals
    if product["id"] not in originals:
        originals[product["id"]] = as_query_photo(Image.open(product["images"][0]))
    photo = originals[product["id"]]
    if degradation == "original":
        return photo
    return DEGRADATIONS[degradation](photo, zlib.crc32(f"{product['id']}/{degradation}".encode()))


def draw_misses(report: dict[str, Any], catalogue: Path, path: Path, limit: int = 60) -> Path | None:
    """A contact sheet of the query photos that did not find their product first, each labelled."""
    if not report["misses"]:
        return None
    from PIL import ImageDraw

    products = {row["id"]: row for row in map(json.loads, catalogue.read_text(encoding="utf-8").splitlines())}
    misses = report["misses"][:limit]
    columns, tile = 6, 200
    sheet = Image.new("RGB", (columns * tile, -(-len(misses) // columns) * (tile + 30)), "white")
    draw = ImageDraw.Draw(sheet)
    for number, miss in enumerate(misses):
        photo = query_photo(products[miss["product"]], miss["degradation"])
        photo.thumbnail((tile - 10, tile - 10))
        x, y = (number % columns) * tile, (number // columns) * (tile + 30)
        sheet.paste(photo, (x + 5, y + 5))
        draw.text((x + 5, y + tile - 2), f"{miss['degradation']}: {miss['product']}", fill="black")
        draw.text((x + 5, y + tile + 12), f"first: {miss['first']}", fill="firebrick")
    sheet.save(path)
    return path


def _photo_figures(rows: dict[str, dict[str, list[float]]], degradations: tuple[str, ...]) -> dict[str, Any]:
    def table(key: str) -> dict[str, float]:
        return {name: round(mean(rows[name][key]), 4) for name in ("original", *degradations)}

    served_1, exact_1 = table("served_at_1"), table("exact_at_1")
    return {
        "recall_at_1": served_1,
        "recall_at_5": table("served_at_5"),
        # The first five results are all a query asks for, so this is MRR@5.
        "mrr": table("served_rr"),
        "mean_recall_at_1": round(mean([served_1[name] for name in degradations]), 4),
        "min_recall_at_1": round(min(served_1[name] for name in degradations), 4),
        "exact": {
            "recall_at_1": exact_1,
            "recall_at_5": table("exact_at_5"),
            "mean_recall_at_1": round(mean([exact_1[name] for name in degradations]), 4),
            "min_recall_at_1": round(min(exact_1[name] for name in degradations), 4),
        },
        "mean_cosine_to_own_photo": table("cosine"),
        "mean_margin_to_best_other": table("margin"),
    }


def _text_figures(
    served: ServedSearch, products: list[dict[str, Any]], originals: dict[str, Image.Image], degradations: tuple[str, ...]
) -> dict[str, Any]:
    """Titles (their own product), category names (the products in it), and degraded photos with
    their category's words (their own product): the default beside each signal alone."""
    by_category: dict[str, dict[str, float]] = {}
    for product in products:
        by_category.setdefault(product["category"], {})[product["id"]] = 1.0
    titles = [JudgedText(product["title"], {product["id"]: 1.0}) for product in products]
    categories = [JudgedText(product["category"].split(" > ")[-1], by_category[product["category"]]) for product in products]
    photo_and_words = [
        JudgedText(product["category"].split(" > ")[-1], {product["id"]: 1.0}, photo_bytes(query_photo(product, name, originals)))
        for name in degradations
        for product in products
    ]
    return {
        "title": measure(served, titles, TEXT_CONFIGS),
        "category": measure(served, categories, TEXT_CONFIGS),
        "photo_and_words": measure(served, photo_and_words, HYBRID_CONFIGS),
    }
