"""Tagging: are a product's category and tags predicted in the shop's own vocabulary?

* **Fashion-MNIST**: the fashion evaluation's catalogue (training images, 10 categories), split
  by a hash of the product id into a tagged half and an untagged half; each untagged product's
  category is predicted from the tagged half. Image vectors only, because the generated titles
  name the class.
* **The demo shop** (its categories and its ``color:`` and ``plant type:`` tags), leave-one-out:
  each product's category and tags are predicted from all the other products, by the product's
  signal (its words, title, brand and description, embedded without its category, against the
  other products' indexed text vectors) and beside it by the image vector and by both.

Three ways are measured on the same vectors: the product's neighbour vote
(:func:`plugin.tagging.vote.vote`), a logistic regression per shop (scikit-learn, one per tag
for tags), and the baseline of the most common category (and no tags). Category micro-F1 is
the share of products whose category is right; macro-F1 averages the categories' F1 alike.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.helpers import scan
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_recall_fscore_support

from evaluation.catalogues import eval_config, ingest_for_evaluation
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect
from plugin.opensearch.documents import product_vectors
from plugin.tagging.predict import DEFAULT_SIGNAL, words_of
from plugin.tagging.vote import NEIGHBOURS, TAG_SHARE, TEMPERATURE, Neighbour, vote
from sample_data.fashion_mnist import write_catalogue
from sample_data.vendure import prepare_vendure

GOAL_FASHION_MICRO_F1 = 0.85


@dataclasses.dataclass
class Shop:
    """Every product's vectors and what the shop gave it, in one order."""

    ids: list[str]
    images: np.ndarray  # (products, dims): the mean of its photos' vectors, unit length
    texts: np.ndarray  # (products, dims): as indexed, the category's words included
    categories: list[str]
    tags: list[tuple[str, ...]]
    #: (products, dims): each product's words without its category, as the product embeds the one
    #: it predicts for; the indexed text vector holds the category, which would give the answer away.
    asked: np.ndarray

    def similarity(self, signal: str) -> np.ndarray:
        """Cosines of each product asked about (rows) to each tagged product (columns) by *signal*:
        ``image``, ``text`` or ``both`` (their mean)."""
        if signal == "both":
            return (self.similarity("image") + self.similarity("text")) / 2
        return self.images @ self.images.T if signal == "image" else self.asked @ self.texts.T

    def features(self, signal: str, asked: bool) -> np.ndarray:
        """What the regression learns from (the tagged products as indexed) or predicts from (*asked*)."""
        text = self.asked if asked else self.texts
        return np.hstack([self.images, text]) if signal == "both" else (self.images if signal == "image" else text)


def evaluate_tagging(
    config: Config, backend: EmbeddingBackend | None = None, *, fashion_products: int = 1_000, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Run the evaluation and return the report's figures."""
    backend = backend or backend_for(config)
    catalogue = write_catalogue(config.data_dir / "fashion-mnist", fashion_products)
    fashion_config = eval_config(config, f"eval-fashion-{fashion_products}-seed0", (catalogue.parent,))
    client = connect(fashion_config)
    ingest_for_evaluation(client, fashion_config, catalogue, backend, rebuild=False)
    fashion = load_shop(client, fashion_config.index_alias, backend)
    progress(f"Fashion-MNIST: {len(fashion.ids)} products")
    demo_catalogue = prepare_vendure(config.data_dir)
    demo_config = eval_config(config, "eval-tagging-demo", (demo_catalogue.parent / "images",))
    ingest_for_evaluation(client, demo_config, demo_catalogue, backend, rebuild=False)
    demo = load_shop(client, demo_config.index_alias, backend)
    progress(f"demo shop: {len(demo.ids)} products")

    tagged = np.asarray([zlib.crc32(product_id.encode()) % 2 == 0 for product_id in fashion.ids])
    fashion_split = [(np.flatnonzero(tagged), np.flatnonzero(~tagged))]
    leave_one_out = [(np.delete(np.arange(len(demo.ids)), i), np.asarray([i])) for i in range(len(demo.ids))]
    out: dict[str, Any] = {
        "evaluation": "tagging",
        "method": {"neighbours": NEIGHBOURS, "temperature": TEMPERATURE, "tag_share": TAG_SHARE, "signal": DEFAULT_SIGNAL},
        "fashion": {
            "products": {"tagged": int(tagged.sum()), "untagged": int((~tagged).sum())},
            "category": _category(fashion, "image", fashion_split),
        },
        "vendure": {"products": len(demo.ids)},
        "goal": {"fashion_category_micro_f1": GOAL_FASHION_MICRO_F1},
        "command": "lookalike eval tagging",
    }
    # The product's signal is reported first, each other signal beside it.
    out["vendure"] |= {"category": _category(demo, DEFAULT_SIGNAL, leave_one_out), "tags": _tags(demo, DEFAULT_SIGNAL, leave_one_out)}
    out["vendure"]["other_signals"] = {
        signal: {"category": _category(demo, signal, leave_one_out), "tags": _tags(demo, signal, leave_one_out)}
        for signal in ("image", "both")
        if signal != DEFAULT_SIGNAL
    }
    # Leave-one-out turns the majority class against the product left out (its own category loses a
    # member), so its baseline is near 0; the largest category's share is what always guessing it scores.
    out["vendure"]["largest_category_share"] = round(Counter(demo.categories).most_common(1)[0][1] / len(demo.ids), 4)
    out["goal"]["met"] = out["fashion"]["category"]["micro_f1"] >= GOAL_FASHION_MICRO_F1
    return out


def load_shop(client: OpenSearch, alias: str, backend: EmbeddingBackend) -> Shop:
    """Every product behind *alias* with its vectors, category and tags (gallery views left out),
    and its words without the category embedded by *backend*."""
    ids, images, texts, categories, tags, words = [], [], [], [], [], []
    fields = ["images.vector", "images.view", "text_vector", "category", "tags", "title", "brand", "description"]
    for hit in sorted(scan(client, index=alias, query={"query": {"match_all": {}}}, _source=fields, size=500), key=lambda h: h["_id"]):
        source = hit["_source"]
        vectors = product_vectors(source)  # as the product's own suggestion reads them
        ids.append(hit["_id"])
        images.append(vectors["image"])
        texts.append(vectors["text"])
        categories.append(source.get("category") or "")
        tags.append(tuple(source.get("tags") or ()))
        words.append(words_of(source))
    asked = np.asarray([vector for start in range(0, len(words), 64) for vector in backend.embed_texts(words[start : start + 64])], np.float32)
    return Shop(ids, np.asarray(images, np.float32), np.asarray(texts, np.float32), categories, tags, asked)


def _category(shop: Shop, signal: str, splits: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Category micro- and macro-F1 of the vote, the logistic regression and the majority class."""
    similarity, learnt, asked = shop.similarity(signal), shop.features(signal, asked=False), shop.features(signal, asked=True)
    truth, voted, regressed, majority = [], [], [], []
    for known, unknown in splits:
        labels = [shop.categories[i] for i in known]
        most = Counter(labels).most_common(1)[0][0]
        model = LogisticRegression(max_iter=2_000).fit(learnt[known], labels)
        regressed += list(model.predict(asked[unknown]))
        for i in unknown:
            truth.append(shop.categories[i])
            voted.append(vote(_neighbours(shop, similarity[i], known)).category or most)
            majority.append(most)
    return {
        "micro_f1": _f1(truth, voted, "micro"),
        "macro_f1": _f1(truth, voted, "macro"),
        "regression_micro_f1": _f1(truth, regressed, "micro"),
        "regression_macro_f1": _f1(truth, regressed, "macro"),
        "baseline_micro_f1": _f1(truth, majority, "micro"),
        "baseline_macro_f1": _f1(truth, majority, "macro"),
        "predicted": len(truth),
    }


def _tags(shop: Shop, signal: str, splits: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Tags' micro- and macro-F1 and each tag's precision, recall and F1, vote beside regression;
    the baseline predicts no tag (every tag is rarer than its absence), so its F1 is 0."""
    vocabulary = sorted({tag for tags in shop.tags for tag in tags})
    similarity, learnt, asked = shop.similarity(signal), shop.features(signal, asked=False), shop.features(signal, asked=True)
    truth = np.zeros((0, len(vocabulary)), bool)
    voted, regressed = truth.copy(), truth.copy()
    for known, unknown in splits:
        columns = []
        for tag in vocabulary:
            has = np.asarray([tag in shop.tags[i] for i in known])
            if has.sum() < 2 or has.all():
                columns.append(np.full(len(unknown), bool(has.all())))
                continue
            columns.append(LogisticRegression(max_iter=2_000, class_weight="balanced").fit(learnt[known], has).predict(asked[unknown]).astype(bool))
        regressed = np.vstack([regressed, np.column_stack(columns)])
        for i in unknown:
            predicted = {tag for tag, _ in vote(_neighbours(shop, similarity[i], known)).tags}
            voted = np.vstack([voted, [tag in predicted for tag in vocabulary]])
            truth = np.vstack([truth, [tag in shop.tags[i] for tag in vocabulary]])
    precision, recall, f1, support = precision_recall_fscore_support(truth, voted, zero_division=0)
    return {
        "micro_f1": round(float(f1_score(truth, voted, average="micro", zero_division=0)), 4),
        "macro_f1": round(float(f1_score(truth, voted, average="macro", zero_division=0)), 4),
        "regression_micro_f1": round(float(f1_score(truth, regressed, average="micro", zero_division=0)), 4),
        "regression_macro_f1": round(float(f1_score(truth, regressed, average="macro", zero_division=0)), 4),
        "baseline_micro_f1": 0.0,
        "per_tag": {
            tag: {"precision": round(float(p), 3), "recall": round(float(r), 3), "f1": round(float(f), 3), "products": int(s)}
            for tag, p, r, f, s in zip(vocabulary, precision, recall, f1, support)
        },
    }


def _neighbours(shop: Shop, similarity: np.ndarray, known: np.ndarray) -> list[Neighbour]:
    nearest = known[np.argsort(-similarity[known], kind="stable")[:NEIGHBOURS]]
    return [Neighbour(float(similarity[j]), shop.categories[j], shop.tags[j]) for j in nearest]


def _f1(truth: list[str], predicted: list[str], average: str) -> float:
    return round(float(f1_score(truth, predicted, average=average, zero_division=0)), 4)


