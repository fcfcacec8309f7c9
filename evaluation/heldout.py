"""The held-out check: a catalogue no default was chosen on, searched by words and by photo.

The Tux Paint stamps (:mod:`sample_data.heldout`, 122 real object photos with their names and
groups) among the same distractors as the Vendure evaluation. Queries: each product's name
(its own product), each category's and each top-level group's name (the products in it), and
degraded photos alone and with their category's name (their own product). Every kind is
measured for the default fusion beside each signal alone (:mod:`evaluation.signals`), so a
default chosen on the demo catalogue that loses here shows as plainly as one that wins.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from typing import Any

from PIL import Image

from evaluation.catalogues import index_among_distractors
from evaluation.degradations import DEGRADATIONS, as_query_photo
from evaluation.searchers import ServedSearch, photo_bytes
from evaluation.signals import HYBRID_CONFIGS, TEXT_CONFIGS, JudgedText, measure
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from sample_data.heldout import prepare_heldout

ALIAS = "eval-heldout"
#: Degradations that keep a small photo's size (a third of the stamps are under 100 pixels).
PHOTO_DEGRADATIONS = ("gaussian_blur", "rotate_45", "occlude_40", "brightness_1.8", "jpeg_10")


def evaluate_heldout(
    config: Config, backend: EmbeddingBackend | None = None, *, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    backend = backend or backend_for(config)
    shop = prepare_heldout(config.data_dir)
    started = time.perf_counter()
    config, indexed = index_among_distractors(config, ALIAS, shop, backend, rebuild=False)
    progress(f"{indexed} products ready in {time.perf_counter() - started:.1f} s")
    served = ServedSearch(config, backend)
    products = [json.loads(line) for line in shop.read_text(encoding="utf-8").splitlines() if line.strip()]

    # A category's name answers with every product filed under it, in its subcategories too.
    members: dict[str, dict[str, float]] = {}
    for product in products:
        levels = product["category"].split(" > ")
        for depth in range(1, len(levels) + 1):
            members.setdefault(" > ".join(levels[:depth]), {})[product["id"]] = 1.0
    leaves = sorted(path for path in members if " > " in path)
    groups = sorted(path for path in members if " > " not in path)
    photos = [(name, product, photo_bytes(query_photo(product, name))) for name in PHOTO_DEGRADATIONS for product in products]
    text = {
        "title": measure(served, [JudgedText(p["title"], {p["id"]: 1.0}) for p in products], TEXT_CONFIGS),
        "category": measure(served, [JudgedText(leaf.split(" > ")[-1], members[leaf]) for leaf in leaves], TEXT_CONFIGS),
        "group": measure(served, [JudgedText(group, members[group]) for group in groups], TEXT_CONFIGS),
        "photo_and_words": measure(
            served, [JudgedText(p["category"].split(" > ")[-1], {p["id"]: 1.0}, data) for _, p, data in photos], HYBRID_CONFIGS
        ),
    }
    progress(f"title recall@1: default {text['title']['default']['recall_at_1']:.3f}, keywords alone {text['title']['keywords']['recall_at_1']:.3f}")
    return {
        "description": f"{len(products)} Tux Paint stamp photos with their names among {indexed - len(products)} distractors; "
        f"{len(leaves)} categories, {len(groups)} groups; photos degraded by {', '.join(PHOTO_DEGRADATIONS)}",
        "catalogue": {"products": len(products), "distractors": indexed - len(products), "categories": len(leaves), "groups": len(groups)},
        "text": text,
        "photo_and_words_degradations": list(PHOTO_DEGRADATIONS),
        "gallery_views": list(config.gallery_views),
    }


def query_photo(product: dict[str, Any], degradation: str) -> Image.Image:
    """The stamp on white, as a photo of the object would show it, phone-sized and degraded."""
    stamp = Image.open(product["images"][0]).convert("RGBA")
    flat = Image.new("RGBA", stamp.size, "white")
    flat.alpha_composite(stamp)
    photo = as_query_photo(flat)
    return DEGRADATIONS[degradation](photo, zlib.crc32(f"{product['id']}/{degradation}".encode()))
