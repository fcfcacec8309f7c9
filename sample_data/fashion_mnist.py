"""Fashion-MNIST (Debian's ``dataset-fashion-mnist``) as image files and a lookalike catalogue."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from PIL import Image

from plugin.errors import DatasetMissing

SOURCE = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_split(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 28, 28)`` uint8 and labels ``(n,)`` of the ``train`` or ``t10k`` split."""
    images_file, labels_file = SOURCE / f"{split}-images-idx3-ubyte.gz", SOURCE / f"{split}-labels-idx1-ubyte.gz"
    if not images_file.is_file():
        raise DatasetMissing(f"Fashion-MNIST is not installed ({images_file} is missing): apt-get install dataset-fashion-mnist")
    images = np.frombuffer(gzip.decompress(images_file.read_bytes()), np.uint8, offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(gzip.decompress(labels_file.read_bytes()), np.uint8, offset=8)
    return images, labels


def write_catalogue(target: Path, count: int, seed: int = 0, split: str = "train") -> Path:
    """*count* images drawn with *seed*, written as PNG files, and a JSONL catalogue of them.

    Each product is in its class's category (10% of the products each) and carries one of
    100 ``bucket-N`` tags (1% each).
    """
    images, labels = load_split(split)
    chosen = np.random.default_rng(seed).choice(len(images), size=min(count, len(images)), replace=False)
    directory = target / f"{split}-{len(chosen)}-seed{seed}-v2"
    catalogue = directory / "catalogue.jsonl"
    if catalogue.is_file():
        return catalogue
    (directory / "png").mkdir(parents=True, exist_ok=True)
    rows = []
    for index in chosen:
        path = directory / "png" / f"{split}-{index:05d}.png"
        Image.fromarray(images[index]).save(path)
        name = CLASSES[labels[index]]
        rows.append(
            {
                "id": f"fmnist-{split}-{index:05d}",
                "title": f"{name} {index}",
                "category": f"Fashion > {name}",
                # bucket-N holds 1% of the products: filters of known selectivity for benchmarks
                "tags": [f"bucket-{len(rows) % 100}"],
                "images": [str(path)],
            }
        )
    partial = catalogue.with_suffix(".partial")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    partial.replace(catalogue)
    return catalogue
