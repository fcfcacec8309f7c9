"""``lookalike bench bridge``: text-to-photo retrieval through the offline model's ImageNet bridge.

Each demo product's title is a query; the product's own photo is the one relevant answer
among the 54. Exact search over the same vectors; chance is reported beside the figures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evaluation.report import write_json
from plugin.config import Config
from plugin.models.registry import backend_for
from sample_data.vendure import prepare_vendure


def run(config: Config, report: Path) -> dict[str, Any]:
    products = [json.loads(line) for line in prepare_vendure(config.data_dir).read_text(encoding="utf-8").splitlines()]
    backend = backend_for(config)
    photos = backend.embed_images([Image.open(p["images"][0]).convert("RGB") for p in products])
    queries = backend.embed_texts_for_images([p["title"] for p in products])
    similarity = queries @ photos.T
    ranks = np.array([(similarity[i] > similarity[i, i]).sum() for i in range(len(products))])
    result = {
        "benchmark": "bridge",
        "model": backend.spec.name,
        "queries": len(products),
        "recall_at_1": round(float(np.mean(ranks < 1)), 3),
        "recall_at_5": round(float(np.mean(ranks < 5)), 3),
        "chance_recall_at_5": round(5 / len(products), 3),
        "median_rank": int(np.median(ranks)) + 1,
        "per_query_rank": {p["title"]: int(r) + 1 for p, r in zip(products, ranks)},
        "command": "lookalike bench bridge",
    }
    write_json(report, result)
    return result
