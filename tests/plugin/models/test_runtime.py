"""ONNX Runtime and PyTorch give the same vectors, so an index built with one is searched with the other.

The graphs are exported from the packaged weights (and from a CLIP checkpoint) once, into
a cache keyed by the weights and the export code, and reused by every later load.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugin.config import Config
from plugin.models.clip import ClipBackend
from plugin.models.export import cached_export
from plugin.models.offline import OfflineBackend
from plugin.models.registry import load_backend
from sample_data.vendure import prepare_vendure

#: Product titles and shoppers' words of every length, with accents, digits and emoji.
TEXTS = [
    "red leather sneaker",
    "Wooden desk with two drawers, oak finish, 120 cm",
    "noise-cancelling over-ear headphones for travel",
    "crème brûlée torch 😀",
    "x",
    " ".join(["a very long product description"] * 60),
]

MIN_COSINE = 0.9999


@pytest.fixture(scope="module")
def photos(base_config: Config) -> list[Image.Image]:
    """The 54 real demo photos, of many sizes and subjects."""
    catalogue = prepare_vendure(base_config.data_dir)
    products = [json.loads(line) for line in catalogue.read_text(encoding="utf-8").splitlines()]
    return [Image.open(str(product["images"][0])).convert("RGB") for product in products]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_the_offline_model_gives_the_same_vectors_and_labels_on_both_runtimes(photos: list[Image.Image]) -> None:
    onnx, torch = load_backend("offline", runtime="onnx"), load_backend("offline", runtime="torch")
    assert isinstance(onnx, OfflineBackend) and isinstance(torch, OfflineBackend)

    assert cosines(onnx.embed_images(photos), torch.embed_images(photos)).min() >= MIN_COSINE
    assert cosines(onnx.embed_texts(TEXTS), torch.embed_texts(TEXTS)).min() >= MIN_COSINE
    assert cosines(onnx.embed_texts_for_images(TEXTS), torch.embed_texts_for_images(TEXTS)).min() >= MIN_COSINE
    assert onnx.predict_labels(photos) == torch.predict_labels(photos)
    assert np.allclose(onnx.text_image_similarity(TEXTS), torch.text_image_similarity(TEXTS), atol=1e-4)


def test_a_clip_checkpoint_gives_the_same_vectors_on_both_runtimes(tiny_clip: Path, tmp_path: Path, photos: list[Image.Image]) -> None:
    onnx = ClipBackend(str(tiny_clip), runtime="onnx", threads=1, cache_dir=tmp_path)
    torch = ClipBackend(str(tiny_clip), runtime="torch")

    assert cosines(onnx.embed_images(photos[:8]), torch.embed_images(photos[:8])).min() >= MIN_COSINE
    assert cosines(onnx.embed_texts(TEXTS), torch.embed_texts(TEXTS)).min() >= MIN_COSINE
    assert [path.name for path in tmp_path.iterdir()] == [next(tmp_path.iterdir()).name]  # one export, two graphs in it
    assert sorted(path.name for path in next(tmp_path.iterdir()).iterdir()) == ["image.onnx", "text.onnx"]


def test_an_export_is_made_once_and_again_only_when_the_weights_or_the_code_change(tmp_path: Path) -> None:
    weights, code = tmp_path / "weights.bin", tmp_path / "backend.py"
    weights.write_bytes(b"\x00" * 1000)
    code.write_text("version = 1\n")
    builds: list[Path] = []

    def build(directory: Path) -> None:
        builds.append(directory)
        (directory / "graph.onnx").write_bytes(b"graph")

    cache = tmp_path / "models"
    first = cached_export(cache, "m", [weights], [code], build)
    again = cached_export(cache, "m", [weights], [code], build)
    code.write_text("version = 2\n")
    changed_code = cached_export(cache, "m", [weights], [code], build)
    weights.write_bytes(b"\x01" * 1000)
    changed_weights = cached_export(cache, "m", [weights], [code], build)

    assert first == again and len({first, changed_code, changed_weights}) == 3
    assert len(builds) == 3
    assert (first / "graph.onnx").read_bytes() == b"graph"
    assert sorted(path.name for path in cache.iterdir()) == sorted(path.name for path in (first, changed_code, changed_weights))


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"w")

    def build(directory: Path) -> None:
        (directory / "half.onnx").write_bytes(b"half")
        raise RuntimeError("out of disk")

    with pytest.raises(RuntimeError, match="out of disk"):
        cached_export(tmp_path / "models", "m", [weights], [], build)

    assert list((tmp_path / "models").iterdir()) == []
