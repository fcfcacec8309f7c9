"""The gallery views evaluation's lifestyle catalogue: the demo products, each pasted into a real photo."""

from __future__ import annotations

import json
import random

import numpy as np
from PIL import Image

from evaluation.gallery import LIFESTYLE_AREA, _pasted, lifestyle_catalogue
from plugin.config import Config
from sample_data.vendure import prepare_vendure


def test_every_demo_product_has_one_lifestyle_photo_of_its_own(base_config: Config) -> None:
    rows = [json.loads(line) for line in lifestyle_catalogue(base_config.data_dir).read_text(encoding="utf-8").splitlines()]
    demo = [json.loads(line) for line in prepare_vendure(base_config.data_dir).read_text(encoding="utf-8").splitlines()]

    assert [(row["id"], row["title"], row["category"]) for row in rows] == [(row["id"], row["title"], row["category"]) for row in demo]
    for row, packshot in zip(rows, demo):
        (photo,) = row["images"]
        assert photo != packshot["images"][0]
        assert max(Image.open(photo).size) <= 800


def test_a_product_covers_the_promised_share_of_its_lifestyle_photo() -> None:
    rng = random.Random(3)
    for _ in range(20):
        frame = Image.new("RGB", (rng.randint(300, 1200), rng.randint(300, 1200)), (0, 0, 0))
        product = Image.new("RGB", (rng.randint(100, 900), rng.randint(100, 900)), (255, 0, 0))

        made = np.asarray(_pasted(frame, product, rng))

        share = float((made[..., 0] > 128).mean())
        assert LIFESTYLE_AREA[0] * 0.95 <= share <= LIFESTYLE_AREA[1] * 1.05
