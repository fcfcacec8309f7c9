"""The production image's ``pip install .`` sees every module of the product.

There is no Docker engine here, so the test does what the ``Dockerfile`` does without it:
copy exactly the paths its ``COPY`` lines name into an empty directory, build the wheel
there with pip (as ``RUN pip install .`` would), and compare the wheel's modules with the
repository's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def copied_paths(dockerfile: Path) -> list[str]:
    """The source paths of the Dockerfile's ``COPY`` lines (build context paths, not ``--from`` stages)."""
    paths = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            paths += [w for w in words[1:-1] if not w.startswith("--")]
    return paths


def product_modules(root: Path) -> set[str]:
    """Every ``.py`` file under the packages that pyproject.toml installs, relative to *root*."""
    packages = ("plugin", "ingest", "api", "mappings", "engine", "cli", "bench", "evaluation", "sample_data")
    return {str(p.relative_to(root)) for package in packages for p in (root / package).rglob("*.py")}


@pytest.fixture(scope="module")
def image_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel ``pip install .`` builds from what the Dockerfile copies into the image."""
    tmp_path = tmp_path_factory.mktemp("image")
    context = tmp_path / "context"
    for pattern in copied_paths(REPO / "Dockerfile"):
        for source in sorted(REPO.glob(pattern)):  # COPY takes wildcards, as glob does
            target = context / source.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "target"))
            else:
                shutil.copy2(source, target)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "wheel"), str(context)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, f"pip install . would fail in the image: {built.stderr[-2000:]}"
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    return zipfile.ZipFile(wheel)


def test_the_image_gets_every_module_of_the_product(image_wheel: zipfile.ZipFile) -> None:
    in_wheel = {name for name in image_wheel.namelist() if name.endswith(".py")}

    missing = sorted(product_modules(REPO) - in_wheel)

    assert missing == [], f"the image would lack {missing}"


@pytest.mark.parametrize("data", ["mappings/products.v1.json", "plugin/data/imagenet_classes.txt", "api/templates/search.html", "api/static/widget.js"])
def test_the_image_gets_the_data_files(image_wheel: zipfile.ZipFile, data: str) -> None:
    assert data in image_wheel.namelist()
