"""The tagging evaluation's arithmetic, on a small shop whose answer is known: products in tight
clusters, one category and one tag per cluster, and a few products whose vectors lie about them."""

from __future__ import annotations

import numpy as np

from evaluation.tagging import Shop, _category, _tags


def _shop(noise: int = 0) -> Shop:
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:3]
    ids, vectors, categories, tags = [], [], [], []
    for n in range(30):
        cluster = n % 3
        vector = centres[cluster] + rng.normal(0, 0.05, 8).astype(np.float32)
        if n < noise:
            vector = centres[(cluster + 1) % 3] + rng.normal(0, 0.05, 8).astype(np.float32)  # looks like the next cluster
        ids.append(f"p{n:02d}")
        vectors.append(vector / np.linalg.norm(vector))
        categories.append(["Shoes", "Bags", "Hats"][cluster])
        tags.append((["color:red", "color:blue", "color:green"][cluster],))
    matrix = np.asarray(vectors)
    return Shop(ids, matrix, matrix, categories, tags, matrix)


def _leave_one_out(shop: Shop) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.delete(np.arange(len(shop.ids)), i), np.asarray([i])) for i in range(len(shop.ids))]


def test_clusters_the_vectors_keep_are_predicted_perfectly_and_the_majority_is_not() -> None:
    shop = _shop()

    category = _category(shop, "image", _leave_one_out(shop))
    tags = _tags(shop, "image", _leave_one_out(shop))

    assert category["micro_f1"] == category["macro_f1"] == category["regression_micro_f1"] == 1.0
    assert category["baseline_micro_f1"] < 0.4 and category["predicted"] == 30
    assert tags["micro_f1"] == 1.0 and tags["per_tag"]["color:red"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "products": 10}


def test_products_whose_vectors_look_like_another_cluster_are_counted_wrong() -> None:
    shop = _shop(noise=3)

    category = _category(shop, "text", _leave_one_out(shop))

    assert category["micro_f1"] == 0.9  # the three misleading products of thirty
    assert _tags(shop, "both", _leave_one_out(shop))["micro_f1"] == 0.9
