"""The production image's ``pip install .`` sees every module of the product, and the product runs from it.

There is no Docker engine here, so the test does what the ``Dockerfile`` does without it:
copy exactly the paths its ``COPY`` lines name into an empty directory, build the wheel
there with pip (as ``RUN pip install .`` would), compare the wheel's modules with the
repository's, install it on its own, import every module from that install and run
``lookalike --help``.
"""

from __future__ import annotations

import os
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


@pytest.fixture(scope="module")
def installed(image_wheel: zipfile.ZipFile, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a directory of its own (the dependencies are this environment's)."""
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(image_wheel.filename)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return target


def run_installed(site: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Python code run from outside the repository with the installed product first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKALIKE_", "OPENSEARCH_"))} | {"PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, env=env, cwd=site.parent)


def test_every_module_imports_from_the_installed_image(installed: Path) -> None:
    modules = sorted(name[:-3].replace("/", ".").removesuffix(".__init__") for name in product_modules(REPO))
    # Each module must come from the install: one the image lacks would otherwise be found in the repository.
    code = (
        "import importlib, sys\n"
        "site = sys.argv[1]\n"
        "for name in sys.argv[2:]:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(site), f'{name} came from {module.__file__}'\n"
        "print('imported', len(sys.argv) - 2)\n"
    )

    result = run_installed(installed, code, str(installed), *modules)

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"imported {len(modules)}"


def test_the_installed_command_runs(installed: Path) -> None:
    result = run_installed(installed, "import sys; from cli.main import main; sys.argv[0] = 'lookalike'; main()", "--help")

    assert result.returncode == 0, result.stderr[-3000:]
    for group in ("engine", "ingest", "serve", "worker", "bench", "eval"):
        assert group in result.stdout
