"""Recommendations and personal ranking, on simulated shoppers over the Fashion-MNIST catalogue.

There is no public click log here, so shoppers are simulated, seeded, and the simulation is
stated in full because every figure depends on it:

* **Products** (the fashion evaluation's catalogue, 10 categories) each get a popularity
  weight, ``1 / rank ** 0.8`` over a random order (a long tail).
* **Outfits**: :data:`OUTFITS` sets of 3 products from 3 different categories, drawn by
  popularity: what shoppers look at together (the pattern only co-occurrence can learn).
* **Shoppers** (:data:`SHOPPERS`) each prefer 2 of the 10 categories and make
  :data:`SESSIONS` sessions. A session picks an outfit holding a product of a preferred
  category and views its products in a random order; after each, with probability
  :data:`P_LOOKALIKE` the shopper also views one of that product's 10 nearest look-alikes (by
  the model's image vectors: what visual similarity can learn), and with probability
  :data:`P_BROWSE` a popular product of a preferred category (what popularity can learn). Some
  views become ``add_to_cart``. Sessions are two days apart.
* **Held out**: each shopper's last event. Every earlier event is sent through ``POST /events``
  and folded in by the periodic task's own function, in two halves of the shoppers (so the
  incremental path is what is measured).

**Next item**: for each shopper, the recommendations for the product of their second-last event
must hold the held-out product in their first 10 (hit-rate@10), by the blend (the product's
default), co-occurrence alone, visual similarity alone and popularity alone; and by the
shopper's own recommendations (``for_shopper``), which leave out what they saw.

**Personal ranking**: for :data:`PERSONAL_SHOPPERS` shoppers, the words "fashion" (which every
product matches) are searched without and with the ``personal`` profile naming the shopper:
precision@10 of the shopper's preferred categories. And a photo of a catalogue product
(JPEG-compressed and slightly blurred) must still find that product first with the profile on
(recall@1 plain against personal); half the photos are of preferred categories, half not.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from flask.testing import FlaskClient
from opensearchpy import OpenSearch
from opensearchpy.helpers import scan
from PIL import Image, ImageFilter

from api.app import create_app
from evaluation.catalogues import eval_config, ingest_for_evaluation
from evaluation.metrics import hit_at, mean
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.documents import product_vectors
from plugin.recommend import related
from plugin.recommend.cooccurrence import (
    events_pattern,
    related_index,
    sessions_index,
    update_related,
)
from plugin.search.profiles import PROFILES
from sample_data.fashion_mnist import write_catalogue

SHOPPERS = 400
SESSIONS = 3
OUTFITS = 150
P_LOOKALIKE = 0.4
P_BROWSE = 0.3
P_CART = 0.15
PERSONAL_SHOPPERS = 100
DEPTH = 10
#: Visual weights of the blend measured beside the default (:data:`plugin.recommend.related.VISUAL_WEIGHT`).
VISUAL_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
#: Settings of the personal profile measured beside its defaults: how far taste may lift a
#: product, and how much of taste is the shop's categories rather than the photos' look.
PERSONAL_SETTINGS = tuple(
    {"personal_weight": weight, "category_weight": share, "keep_best": keep}
    for keep in (0.0, 1.0) for share in (0.0, 0.5, 1.0) for weight in (0.1, 0.2, 0.3)
)
GOAL_PERSONAL_LIFT = 0.2
#: The personal weight of the oracle that knows the categories of a shopper's events (a ceiling, not the product).
ORACLE_WEIGHT = 0.3


@dataclasses.dataclass(frozen=True)
class Catalogue:
    ids: list[str]
    categories: list[str]
    images: np.ndarray  # unit photo vectors, in the order of ids
    photos: dict[str, str]  # product id to its PNG file


@dataclasses.dataclass
class Shopper:
    user: str
    preferred: tuple[str, str]
    events: list[dict[str, Any]]


def evaluate_recommendations(
    config: Config,
    backend: EmbeddingBackend | None = None,
    *,
    products: int = 1_000,
    shoppers: int = SHOPPERS,
    personal_shoppers: int = PERSONAL_SHOPPERS,
    seed: int = 0,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Simulate the shoppers, replay their events, and return the report's figures."""
    backend = backend or backend_for(config)
    catalogue_file = write_catalogue(config.data_dir / "fashion-mnist", products)
    config = eval_config(config, f"eval-fashion-{products}-seed0", (catalogue_file.parent,))
    client = connect(config)
    ingest_for_evaluation(client, config, catalogue_file, backend, rebuild=False)
    catalogue = load_catalogue(client, config.index_alias, catalogue_file)
    progress(f"{len(catalogue.ids)} products")
    _forget_behaviour(client, config.index_alias)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    simulated = simulate(catalogue, shoppers, np.random.default_rng(seed), now)
    api = create_app(dataclasses.replace(config, limits=dataclasses.replace(config.limits, search="", url_fetch="")), backend, warm=False).test_client()
    half = len(simulated) // 2
    folded = []
    for part in (simulated[:half], simulated[half:]):
        _send(api, [event for shopper in part for event in shopper.events[:-1]])
        folded.append(dataclasses.asdict(update_related(client, config)))
    progress(f"{sum(f['events'] for f in folded)} events folded in ({folded[0]['events']} + {folded[1]['events']})")
    out: dict[str, Any] = {
        "evaluation": "recommendations",
        "command": "lookalike eval recommendations",
        "simulation": {
            "products": len(catalogue.ids), "shoppers": len(simulated), "sessions_each": SESSIONS, "outfits": OUTFITS,
            "p_lookalike": P_LOOKALIKE, "p_browse": P_BROWSE, "p_cart": P_CART, "seed": seed,
            "events_sent": sum(len(s.events) - 1 for s in simulated), "folded": folded,
            "held_out": _held_out_kinds(simulated),
            # How much a shopper's events say about their preference: the share in their preferred categories.
            "preferred_share_of_events": _preferred_share(catalogue, simulated),
        },
    }
    out |= next_item(client, config.index_alias, catalogue, simulated, progress)
    out["personal"] = personal(api, client, config.index_alias, catalogue, simulated[:personal_shoppers], np.random.default_rng(seed + 1), progress)
    lift = out["personal"]["preferred_precision_at_10"]["personal"] - out["personal"]["preferred_precision_at_10"]["plain"]
    rates = out["hit_rate_at_10"]
    out["goal"] = {
        "blended_beats_baselines": rates["blended"] > max(rates["cooccurrence"], rates["visual"], rates["popularity"]),
        "personal_lift_at_least": GOAL_PERSONAL_LIFT,
        "personal_lift": round(lift, 4),
        "photo_recall_at_1_unchanged": out["personal"]["photo_recall_at_1"]["personal"] >= out["personal"]["photo_recall_at_1"]["plain"],
    }
    out["goal"]["met"] = out["goal"]["blended_beats_baselines"] and lift >= GOAL_PERSONAL_LIFT and out["goal"]["photo_recall_at_1_unchanged"]
    return out


def load_catalogue(client: OpenSearch, alias: str, catalogue_file: Any) -> Catalogue:
    ids, categories, images = [], [], []
    fields = ["category", "images.vector", "images.view", "images.url"]
    photos = {}
    for hit in sorted(scan(client, index=alias, query={"query": {"match_all": {}}}, _source=fields, size=500), key=lambda h: h["_id"]):
        ids.append(hit["_id"])
        categories.append(hit["_source"]["category"])
        images.append(product_vectors(hit["_source"])["image"])
        photos[hit["_id"]] = hit["_source"]["images"][0]["url"]
    return Catalogue(ids, categories, np.asarray(images, np.float32), photos)


def simulate(catalogue: Catalogue, shoppers: int, rng: np.random.Generator, now: dt.datetime) -> list[Shopper]:
    """The shoppers and their events, oldest first (see the module's docstring)."""
    n = len(catalogue.ids)
    popularity = 1.0 / (rng.permutation(n) + 1.0) ** 0.8
    popularity /= popularity.sum()
    names = sorted(set(catalogue.categories))
    members = {name: np.flatnonzero(np.asarray(catalogue.categories) == name) for name in names}
    outfits = []
    while len(outfits) < OUTFITS:
        three = rng.choice(len(names), size=3, replace=False)
        outfits.append([int(rng.choice(members[names[c]], p=popularity[members[names[c]]] / popularity[members[names[c]]].sum())) for c in three])
    similarity = catalogue.images @ catalogue.images.T
    np.fill_diagonal(similarity, -1)
    lookalikes = np.argsort(-similarity, axis=1)[:, :10]
    out = []
    for number in range(shoppers):
        preferred = tuple(str(name) for name in rng.choice(names, size=2, replace=False))
        liked = [o for o in outfits if any(catalogue.categories[i] in preferred for i in o)]
        events: list[dict[str, Any]] = []
        user = f"shopper-{number:04d}"
        for session in range(SESSIONS):
            start = now - dt.timedelta(days=2 * (SESSIONS - session), minutes=int(rng.integers(0, 600)))
            viewed: list[int] = []
            for item in rng.permutation(liked[int(rng.integers(len(liked)))]):
                viewed.append(int(item))
                if rng.random() < P_LOOKALIKE:
                    viewed.append(int(rng.choice(lookalikes[item])))
                if rng.random() < P_BROWSE:
                    pool = members[preferred[int(rng.integers(2))]]
                    viewed.append(int(rng.choice(pool, p=popularity[pool] / popularity[pool].sum())))
            for step, item in enumerate(viewed):
                kind = "add_to_cart" if rng.random() < P_CART else "view"
                at = start + dt.timedelta(minutes=step)
                events.append({"type": kind, "user": user, "session": f"{user}-{session}", "product_id": catalogue.ids[item], "at": at.isoformat()})
        out.append(Shopper(user, preferred, events))
    return out


def next_item(client: OpenSearch, alias: str, catalogue: Catalogue, shoppers: list[Shopper], progress: Callable[[str], None]) -> dict[str, Any]:
    """Hit-rate@10 of each shopper's held-out product, from the product of their event before it."""
    vectors = dict(zip(catalogue.ids, catalogue.images))
    hits: dict[str, list[float]] = {}
    by_weight: dict[str, list[float]] = {str(w): [] for w in VISUAL_WEIGHTS}
    popular = [rec.product_id for rec in related.most_popular(client, alias, DEPTH + 1)]
    timings: dict[str, list[float]] = {"product": [], "shopper": []}
    for done, shopper in enumerate(shoppers, start=1):
        seed, target = shopper.events[-2]["product_id"], shopper.events[-1]["product_id"]
        relevant = {target: 1.0}
        started = time.perf_counter()
        blended = [rec.product_id for rec in related.for_product(client, alias, seed, DEPTH)]
        timings["product"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        for_shopper = [rec.product_id for rec in related.for_shopper(client, alias, shopper.user, DEPTH)]
        timings["shopper"].append((time.perf_counter() - started) * 1000)
        lists = {
            "blended": blended,
            "cooccurrence": [rec.product_id for rec in related.for_product(client, alias, seed, DEPTH, visual_weight=0.0)],
            "visual": list(related.looks_like(client, alias, vectors[seed], {seed}, DEPTH)),
            "popularity": [p for p in popular if p != seed][:DEPTH],
            "shopper_blended": for_shopper,
        }
        for name, ranked in lists.items():
            hits.setdefault(name, []).append(hit_at(ranked, relevant, DEPTH))
        for weight in VISUAL_WEIGHTS:
            ranked = [rec.product_id for rec in related.for_product(client, alias, seed, DEPTH, visual_weight=weight)]
            by_weight[str(weight)].append(hit_at(ranked, relevant, DEPTH))
        if done % 100 == 0:
            progress(f"{done} shoppers: blended {mean(hits['blended']):.3f}, co-occurrence {mean(hits['cooccurrence']):.3f}")
    rates = {name: round(mean(values), 4) for name, values in hits.items()}
    return {
        "hit_rate_at_10": {name: rates[name] for name in ("blended", "cooccurrence", "visual", "popularity")},
        "shopper_hit_rate_at_10": {"blended": rates["shopper_blended"]},
        "blend_visual_weight": {"default": related.VISUAL_WEIGHT, "hit_rate_at_10": {w: round(mean(v), 4) for w, v in by_weight.items()}},
        # In this process, through the plugin (no HTTP), on the evaluation machine.
        "ms_p50": {"product": round(float(np.median(timings["product"])), 1), "shopper": round(float(np.median(timings["shopper"])), 1)},
    }


def personal(
    api: FlaskClient, client: OpenSearch, alias: str, catalogue: Catalogue, shoppers: list[Shopper], rng: np.random.Generator, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Preferred-category precision@10 of a broad query, and a photo's own product at rank 1, plain
    and personal: the profile's defaults, and each setting of :data:`PERSONAL_SETTINGS` beside them."""
    category = dict(zip(catalogue.ids, catalogue.categories))
    defaults = dict(PROFILES["personal"].params)
    settings = {_name(defaults): defaults} | {_name(params): params for params in PERSONAL_SETTINGS}
    precision: dict[str, list[float]] = {"plain": [], "oracle": [], **{name: [] for name in settings}}
    recall: dict[str, list[float]] = {"plain": [], "oracle": [], **{name: [] for name in settings}}
    default = _name(defaults)
    took: dict[str, list[float]] = {"plain": [], default: []}
    for shopper in shoppers:
        preferred = set(shopper.preferred)
        # Half the photos of a preferred category, half of another: the profile must not move either off rank 1.
        pool = [p for p in catalogue.ids if (category[p] in preferred) == (len(recall["plain"]) % 2 == 0)]
        product = pool[int(rng.integers(len(pool)))]
        words = {"text": "fashion", "size": DEPTH}
        photo = {"image_base64": _degraded(catalogue.photos[product]), "size": DEPTH}
        for name, params in {"plain": None, **settings}.items():
            personal = {"profile": "personal", "shopper": shopper.user, "profile_params": params} if params else {}
            started = time.perf_counter()
            ranked = _search(api, words | personal)
            if name in took:
                took[name].append((time.perf_counter() - started) * 1000)
            precision[name].append(sum(category[p] in preferred for p in ranked[:DEPTH]) / DEPTH)
            recall[name].append(float(_search(api, photo | personal)[:1] == [product]))
        viewed = Counter(category[event["product_id"]] for event in shopper.events[:-1])
        ranked = _oracle(api, words, viewed, category)
        precision["oracle"].append(sum(category[p] in preferred for p in ranked[:DEPTH]) / DEPTH)
        recall["oracle"].append(float(_oracle(api, photo, viewed, category)[:1] == [product]))
    progress(f"personal: precision@10 plain {mean(precision['plain']):.3f}, personal {mean(precision[default]):.3f}")
    return {
        "query": "the words 'fashion', which every product matches; the photo: a catalogue product's, JPEG 60 and blurred (radius 0.6)",
        "shoppers": len(shoppers),
        "defaults": defaults,
        "preferred_precision_at_10": {"plain": round(mean(precision["plain"]), 4), "personal": round(mean(precision[default]), 4)},
        "photo_recall_at_1": {"plain": round(mean(recall["plain"]), 4), "personal": round(mean(recall[default]), 4)},
        # The words' search through POST /search in this process: the profile reads the shopper's events and scores their taste.
        "words_ms_p50": {"plain": round(float(np.median(took["plain"])), 1), "personal": round(float(np.median(took[default])), 1)},
        "by_setting": {
            name: {"preferred_precision_at_10": round(mean(precision[name]), 4), "photo_recall_at_1": round(mean(recall[name]), 4)} for name in settings
        },
        # Not the product: the plain ranking raised as the profile would (weight ORACLE_WEIGHT), by the
        # true share of each category among the shopper's events. What a perfect reading of their history could do.
        "oracle_viewed_categories": {
            "personal_weight": ORACLE_WEIGHT,
            "preferred_precision_at_10": round(mean(precision["oracle"]), 4),
            "photo_recall_at_1": round(mean(recall["oracle"]), 4),
        },
    }


def _oracle(api: FlaskClient, body: dict[str, Any], viewed: Counter[str], category: dict[str, str]) -> list[str]:
    """The plain ranking of *body*'s whole window, re-ranked by the share of each candidate's category in *viewed*."""
    answer = api.post("/search", json=body | {"size": 100, "explain": True})
    hits = answer.get_json()["hits"]
    if not hits:
        return []
    shares = np.asarray([viewed.get(category[hit["product_id"]], 0) for hit in hits], np.float64)
    spread = shares.max() - shares.min()
    closeness = (shares - shares.min()) / spread if spread > 0 else np.zeros(len(hits))
    top = max(hit["score"] for hit in hits)
    scores = [hit["score"] + ORACLE_WEIGHT * top * c for hit, c in zip(hits, closeness)]
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [hits[i]["product_id"] for i in order]


def _name(params: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:g}" for key, value in sorted(params.items()))


def _search(api: FlaskClient, body: dict[str, Any]) -> list[str]:
    answer = api.post("/search", json=body)
    if answer.status_code != 200:
        raise RuntimeError(f"POST /search answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")
    return [hit["product_id"] for hit in answer.get_json()["hits"]]


def _degraded(path: str) -> str:
    with Image.open(path) as image:
        softened = image.convert("RGB").filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    softened.save(buffer, format="JPEG", quality=60)
    return base64.b64encode(buffer.getvalue()).decode()


def _send(api: FlaskClient, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 500):
        answer = api.post("/events", json={"events": events[start : start + 500]})
        if answer.status_code != 202:
            raise RuntimeError(f"POST /events answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")


def _forget_behaviour(client: OpenSearch, alias: str) -> None:
    """Start from no events: this evaluation's own events, counts and sessions deleted."""
    for index in (events_pattern(alias), related_index(alias), sessions_index(alias)):
        client.indices.delete(index=index, ignore_unavailable=True, expand_wildcards="all")


def _preferred_share(catalogue: Catalogue, shoppers: list[Shopper]) -> float:
    """The mean share of a shopper's events (held-out ones excepted) in their preferred categories."""
    category = dict(zip(catalogue.ids, catalogue.categories))
    shares = [mean([float(category[e["product_id"]] in s.preferred) for e in s.events[:-1]]) for s in shoppers]
    return round(mean(shares), 4)


def _held_out_kinds(shoppers: list[Shopper]) -> dict[str, int]:
    """How many held-out events are carts, to read the figures by."""
    carts = sum(1 for s in shoppers if s.events[-1]["type"] == "add_to_cart")
    return {"add_to_cart": carts, "view": len(shoppers) - carts}
