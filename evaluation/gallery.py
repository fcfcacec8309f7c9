"""Gallery views compared: what each set of views indexed beside the catalogue photos gains and costs.

Each set of views (:mod:`plugin.images.gallery`) is indexed in turn through the real
pipeline and measured three ways, all through the API with its default ``detect``:

- the Vendure robustness table (the demo products' photos degraded 18 ways, among the
  distractors), without its word queries;
- **lifestyle catalogue**: the same products, but each catalogue photo is the product's photo
  pasted whole, at 10–35% of the frame, into a real photo from the distractor set (seeded), as
  a shop selling from lifestyle shots has its product in a room; each query is the product's
  own packshot, plain and degraded. This is where catalogue-side detection (the ``object``
  view) can help;
- the scenes (shoppers' photos, :mod:`evaluation.scenes`) of the demo products and of the
  held-out stamps, with ``detect`` auto.

Beside them, what the index cost: image vectors stored, bytes on disk, ingest time, and the
photo query's median latency.
"""

from __future__ import annotations

import dataclasses
import json
import random
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
from evaluation.scenes import backgrounds
from evaluation.searchers import ServedSearch, photo_bytes
from evaluation.vendure import evaluate_vendure
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from sample_data.distractors import prepare_distractors
from sample_data.vendure import prepare_vendure

#: The sets compared: none (the baseline), each kind alone, and the rotations with the small copy.
VIEW_SETS: tuple[tuple[str, ...], ...] = ((), ("small",), ("rotate_45", "rotate_315"), ("rotate_45", "rotate_315", "small"), ("object",))
#: The packshot queries of the lifestyle catalogue: as they are, and a few ways a shopper's copy differs.
LIFESTYLE_QUERIES = ("original", "rotate_15", "crop_70", "occlude_20", "jpeg_10", "downscale_64")
#: Each product's share of its lifestyle photo (its box's area), drawn uniformly.
LIFESTYLE_AREA = (0.10, 0.35)
LIFESTYLE_ALIAS = "eval-lifestyle"
SEED = 7


def evaluate_gallery_views(
    config: Config,
    backend: EmbeddingBackend | None = None,
    *,
    sets: tuple[tuple[str, ...], ...] = VIEW_SETS,
    scenes: int = 60,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Index and measure each set of *sets* in turn; the figures of each, by name (``none`` for no views)."""
    from evaluation.scenes import evaluate_scenes

    backend = backend or backend_for(config)
    lifestyle = lifestyle_catalogue(config.data_dir)
    out: dict[str, Any] = {"model": f"{backend.spec.name} v{backend.spec.version}", "detect": config.detect.mode, "sets": {}}
    for views in sets:
        name = "+".join(views) or "none"
        with_views = dataclasses.replace(config, gallery_views=views)
        robustness = evaluate_vendure(with_views, backend, words=False)
        degradations = [key for key in robustness["recall_at_1"] if key != "original"]
        shoppers = evaluate_scenes(with_views, backend, scenes=scenes, sets=("vendure", "heldout"), modes=("auto",))["sets"]
        out["sets"][name] = {
            "views": list(views),
            "index": robustness["index"],
            "photo_query_ms_p50": round(robustness["latency_ms"]["photo_query_median"], 1),
            "vendure": {
                "mean_recall_at_1": robustness["mean_recall_at_1"],
                "min_recall_at_1": robustness["min_recall_at_1"],
                "mean_recall_at_5": round(mean([robustness["recall_at_5"][key] for key in degradations]), 4),
                "mean_mrr_at_5": round(mean([robustness["mrr"][key] for key in degradations]), 4),
                "recall_at_1": robustness["recall_at_1"],
            },
            "lifestyle": _lifestyle(with_views, backend, lifestyle),
            "scenes_auto": {
                catalogue: {key: figures["modes"]["auto"][key] for key in ("largest_recall_at_1", "largest_recall_at_5", "largest_mrr", "each_recall_at_5")}
                for catalogue, figures in shoppers.items()
            },
        }
        row = out["sets"][name]
        progress(
            f"{name}: vendure mean recall@1 {row['vendure']['mean_recall_at_1']:.3f}, lifestyle recall@1 "
            f"{row['lifestyle']['recall_at_1']:.3f}, scenes {row['scenes_auto']['vendure']['largest_recall_at_1']:.3f} (demo) "
            f"{row['scenes_auto']['heldout']['largest_recall_at_1']:.3f} (stamps); "
            f"{row['index']['image_vectors']} image vectors"
        )
    return out


def lifestyle_catalogue(data_dir: Path) -> Path:
    """The demo catalogue with each product's photo pasted into a real photo (seeded), written once."""
    shop = prepare_vendure(data_dir)
    target = data_dir / "eval" / "lifestyle" / "catalogue.jsonl"
    images = target.parent / "images"
    rows = [json.loads(line) for line in shop.read_text(encoding="utf-8").splitlines() if line.strip()]
    if target.is_file() and all((images / f"{row['id']}.jpg").is_file() for row in rows):
        return target
    images.mkdir(parents=True, exist_ok=True)
    found = backgrounds(prepare_distractors(data_dir).parent / "photos")
    rng = random.Random(SEED)
    lines = []
    for row in rows:
        photo = _pasted(Image.open(found[rng.randrange(len(found))]).convert("RGB"), Image.open(row["images"][0]).convert("RGB"), rng)
        path = images / f"{row['id']}.jpg"
        path.write_bytes(photo_bytes(photo))
        lines.append(json.dumps(row | {"images": [str(path)]}))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _pasted(frame: Image.Image, product: Image.Image, rng: random.Random) -> Image.Image:
    frame.thumbnail((800, 800), Image.LANCZOS)
    scale = (rng.uniform(*LIFESTYLE_AREA) * frame.width * frame.height / (product.width * product.height)) ** 0.5
    size = (max(16, round(product.width * scale)), max(16, round(product.height * scale)))
    if size[0] > frame.width or size[1] > frame.height:
        fit = min(frame.width / size[0], frame.height / size[1])
        size = (int(size[0] * fit), int(size[1] * fit))
    frame.paste(product.resize(size, Image.LANCZOS), (rng.randint(0, frame.width - size[0]), rng.randint(0, frame.height - size[1])))
    return frame


def _lifestyle(config: Config, backend: EmbeddingBackend, catalogue: Path) -> dict[str, Any]:
    started = time.perf_counter()
    config, _ = index_among_distractors(config, LIFESTYLE_ALIAS, catalogue, backend)
    cost = index_cost(connect(config), config.index_alias, time.perf_counter() - started)
    served = ServedSearch(config, backend)
    shop = prepare_vendure(config.data_dir)
    products = [json.loads(line) for line in shop.read_text(encoding="utf-8").splitlines() if line.strip()]
    hits_1: list[float] = []
    hits_5: list[float] = []
    ranks: list[float] = []
    for name in LIFESTYLE_QUERIES:
        for product in products:
            photo = as_query_photo(Image.open(product["images"][0]))
            if name != "original":
                photo = DEGRADATIONS[name](photo, zlib.crc32(f"{product['id']}/{name}".encode()))
            ranked = served.by_photo(photo_bytes(photo), size=5)
            relevant = {product["id"]: 1.0}
            hits_1.append(hit_at(ranked, relevant, 1))
            hits_5.append(hit_at(ranked, relevant, 5))
            ranks.append(reciprocal_rank(ranked, relevant))
    return {
        "queries": len(hits_1),
        "recall_at_1": round(mean(hits_1), 4),
        "recall_at_5": round(mean(hits_5), 4),
        "mrr_at_5": round(mean(ranks), 4),
        "photo_query_ms_p50": round(float(np.median(served.latencies_ms)), 1),
        "index": cost,
    }

