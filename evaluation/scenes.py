"""Shopper-like scenes: real photos with one to three catalogue products pasted into them.

A shopper photographs a product where it stands: a chair in a room, a bag on a shoulder.
No public set of such photos with their products' boxes can be had here, so each scene is
made: a real photo from the distractor set (never a catalogue photo) as the background,
and 1 to 3 catalogue products pasted at random positions, each covering 15–50% of the
frame, some rotated and partly overlapping. A product with a transparent background (the
held-out stamps) is pasted as its cut-out; a product photo without one is pasted whole, as
a poster, a screen or a printed photo of it would appear. Everything is drawn from a seed,
so a report can be reproduced exactly, and the true box of every product is known.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation.catalogues import index_among_distractors
from evaluation.metrics import mean, reciprocal_rank
from evaluation.searchers import ServedSearch, photo_bytes
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.search.regions import iou
from sample_data.distractors import prepare_distractors
from sample_data.heldout import prepare_heldout
from sample_data.vendure import prepare_vendure

#: The frame's longer side at most, as a phone upload is scaled (:data:`evaluation.degradations.QUERY_SIDE`).
SCENE_SIDE = 640
#: A background must have at least this shorter side to stand for a photo of a room or a street.
MIN_BACKGROUND_SIDE = 256
#: Each product covers this share of the frame's area (its box, before rotation).
AREA = (0.15, 0.50)
#: Share of products pasted rotated, and the largest angle in degrees.
ROTATED, MAX_ANGLE = 0.3, 30.0
#: The most of an earlier product's box a later one may cover.
MAX_COVER = 0.25
#: The detect modes measured, and the bound no detector can beat: the largest product's own box as the crop.
MODES = ("off", "auto", "all")
#: Catalogues whose products are pasted: the demo photos (whole, on their backdrops) and the
#: held-out stamps (cut-outs), each among the distractors, under the alias its own evaluation uses.
SETS = {"vendure": "eval-vendure", "heldout": "eval-heldout"}
SEED = 2026


@dataclasses.dataclass(frozen=True)
class Placement:
    product_id: str
    #: The pasted product's box as fractions of the frame: left, top, right, bottom.
    box: tuple[float, float, float, float]

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclasses.dataclass
class Scene:
    image: Image.Image
    background: str
    #: In the order pasted; a later product may cover part of an earlier one.
    placements: list[Placement]

    @property
    def largest(self) -> Placement:
        return max(self.placements, key=lambda placement: placement.area)


def backgrounds(photos: Path) -> list[Path]:
    """The distractor photos large enough to be a scene, in a fixed order."""
    found = []
    for path in sorted(photos.iterdir()):
        with Image.open(path) as image:
            if min(image.size) >= MIN_BACKGROUND_SIDE:
                found.append(path)
    return found


def make_scenes(background_paths: list[Path], products: dict[str, Path], count: int, seed: int) -> list[Scene]:
    """*count* scenes, each one background with 1 to 3 of *products* (id → photo) pasted in."""
    rng = random.Random(seed)
    ids = sorted(products)
    scenes = []
    for number in range(count):
        background = background_paths[number % len(background_paths)]
        frame = Image.open(background).convert("RGB")
        frame.thumbnail((SCENE_SIDE, SCENE_SIDE), Image.LANCZOS)
        placements: list[Placement] = []
        for product_id in rng.sample(ids, rng.randint(1, 3)):
            placement = _paste(frame, Image.open(products[product_id]), product_id, placements, rng)
            if placement is not None:
                placements.append(placement)
        scenes.append(Scene(frame, background.name, placements))
    return scenes


def _paste(frame: Image.Image, photo: Image.Image, product_id: str, earlier: list[Placement], rng: random.Random) -> Placement | None:
    """Paste *photo* into *frame* where it covers little of the *earlier* products; None when it fits nowhere."""
    cutout = photo.convert("RGBA")
    area = rng.uniform(*AREA) * frame.width * frame.height
    scale = math.sqrt(area / (cutout.width * cutout.height))
    width, height = max(8, round(cutout.width * scale)), max(8, round(cutout.height * scale))
    if width > frame.width or height > frame.height:
        fit = min(frame.width / width, frame.height / height)
        width, height = max(8, int(width * fit)), max(8, int(height * fit))
    cutout = cutout.resize((width, height), Image.LANCZOS)
    if rng.random() < ROTATED:
        cutout = cutout.rotate(rng.uniform(-MAX_ANGLE, MAX_ANGLE), resample=Image.BICUBIC, expand=True)
        cutout = cutout.crop(cutout.getbbox() or (0, 0, cutout.width, cutout.height))
        if cutout.width > frame.width or cutout.height > frame.height:
            cutout.thumbnail((frame.width, frame.height), Image.LANCZOS)
    for _ in range(30):
        left = rng.randint(0, frame.width - cutout.width)
        top = rng.randint(0, frame.height - cutout.height)
        box = (left / frame.width, top / frame.height, (left + cutout.width) / frame.width, (top + cutout.height) / frame.height)
        if all(_covered(placement.box, box) <= MAX_COVER for placement in earlier):
            frame.paste(cutout, (left, top), cutout)
            return Placement(product_id, box)
    return None


def _owner(box: list[float], placements: list[Placement]) -> Placement | None:
    """The pasted product whose photo holds most of *box*, when it holds at least half of it."""
    share, owner = max(((_inside(box, placement.box), placement) for placement in placements), key=lambda pair: pair[0], default=(0.0, None))
    return owner if share >= 0.5 else None


def _inside(box: list[float], photo: tuple[float, float, float, float]) -> float:
    """The share of *box* that lies on *photo*."""
    width = min(box[2], photo[2]) - max(box[0], photo[0])
    height = min(box[3], photo[3]) - max(box[1], photo[1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return max(0.0, width) * max(0.0, height) / area if area > 0 else 0.0


def _covered(under: tuple[float, float, float, float], over: tuple[float, float, float, float]) -> float:
    """The share of box *under* that box *over* covers."""
    width = min(under[2], over[2]) - max(under[0], over[0])
    height = min(under[3], over[3]) - max(under[1], over[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / ((under[2] - under[0]) * (under[3] - under[1]))


def evaluate_scenes(
    config: Config,
    backend: EmbeddingBackend | None = None,
    *,
    scenes: int = 300,
    sets: tuple[str, ...] = tuple(SETS),
    modes: tuple[str, ...] = (*MODES, "true_box"),
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Search every scene in each detect mode through the API; the figures of each set and mode.

    The background photo is itself a distractor product of the index: a shopper's room is never
    in the catalogue, so each query leaves that one product out of its results.
    """
    backend = backend or backend_for(config)
    photos = prepare_distractors(config.data_dir).parent / "photos"
    found = backgrounds(photos)
    spec = backend.spec
    out: dict[str, Any] = {
        "scenes_per_set": scenes, "seed": SEED, "backgrounds": len(found), "model": f"{spec.name} v{spec.version}",
        "detector": _detector_settings(config), "gallery_views": list(config.gallery_views), "sets": {},
    }
    for name in sets:
        shop = prepare_vendure(config.data_dir) if name == "vendure" else prepare_heldout(config.data_dir)
        set_config, indexed = index_among_distractors(config, SETS[name], shop, backend, rebuild=False)
        products = {row["id"]: Path(row["images"][0]) for row in map(json.loads, shop.read_text(encoding="utf-8").splitlines()) if row}
        made = make_scenes(found, products, scenes, SEED)
        served = ServedSearch(set_config, backend)
        figures = {mode: _measure(served, made, mode) for mode in modes}
        out["sets"][name] = {"products": len(products), "indexed": indexed, "pasted": sum(len(s.placements) for s in made), "modes": figures}
        progress(f"{name}: largest recall@1 " + ", ".join(f"{mode} {row['largest_recall_at_1']:.3f}" for mode, row in figures.items()))
    out["modes"] = out["sets"][sets[0]]["modes"]
    return out


def _measure(served: ServedSearch, scenes: list[Scene], mode: str) -> dict[str, float]:
    """One mode's figures over *scenes*: the largest product's rank, each product's, and the latency."""
    served.latencies_ms = []
    largest_ranks: list[list[str]] = []
    each_found: list[float] = []
    any_group: list[float] = []
    searched_right: list[float] = []
    for scene in scenes:
        body: dict[str, Any] = {
            "image_base64": scene_photo(scene),
            "size": 10,
            "filters": {"exclude_ids": [f"distractor-{Path(scene.background).stem}"]},
            "detect": "off" if mode == "true_box" else mode,
        }
        if mode == "true_box":
            body["crop"] = list(scene.largest.box)
        served.forget()  # each mode meets each photo as new, so its latency includes all its work
        answer = served.response(body)
        ranked = [hit["product_id"] for hit in answer["hits"]]
        largest_ranks.append(ranked)
        groups = [(group["box"], [hit["product_id"] for hit in group["hits"][:5]]) for group in answer.get("groups", [])]
        for placement in scene.placements:
            if mode == "all":
                # Found in its own group: one whose box lies mostly on this product's photo.
                own = [found for box, found in groups if _owner(box, scene.placements) is placement]
                each_found.append(float(any(placement.product_id in found for found in own)))
                any_group.append(float(any(placement.product_id in found for _, found in groups)))
            else:
                each_found.append(float(placement.product_id in ranked[:5]))
        region = (answer.get("detection") or {}).get("searched_region")
        if mode == "auto":
            searched_right.append(float(region is not None and iou(region, scene.largest.box) >= 0.3))
    largest = [{scene.largest.product_id: 1.0} for scene in scenes]
    figures = {
        "largest_recall_at_1": mean([float(r[:1] == [next(iter(rel))]) for r, rel in zip(largest_ranks, largest)]),
        "largest_recall_at_5": mean([float(next(iter(rel)) in r[:5]) for r, rel in zip(largest_ranks, largest)]),
        "largest_mrr": mean([reciprocal_rank(r, rel) for r, rel in zip(largest_ranks, largest)]),
        "each_recall_at_5": mean(each_found),
        "ms_p50": round(float(np.percentile(served.latencies_ms, 50)), 1),
        "ms_p90": round(float(np.percentile(served.latencies_ms, 90)), 1),
    }
    if mode == "all":
        figures["each_recall_at_5_any_group"] = mean(any_group)
    if mode == "auto":
        # The region the first result was found by overlaps the largest product (IoU >= 0.3).
        figures["first_found_by_the_largest"] = mean(searched_right)
    return {name: round(value, 4) if isinstance(value, float) else value for name, value in figures.items()}


def scene_photo(scene: Scene) -> str:
    """The scene as a base64 JPEG, as a phone would upload it."""
    return base64.b64encode(photo_bytes(scene.image)).decode()


def _detector_settings(config: Config) -> dict[str, Any]:
    settings = config.detect
    return {
        "size": settings.size, "min_score": settings.min_score, "boxes_searched_by_auto": settings.candidates,
        "grid": f"{settings.grid}x{settings.grid} windows of {settings.grid_side:.2f}" if settings.grid else "none",
    }
