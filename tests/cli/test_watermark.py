"""``lookalike watermark check FILE``: exit 0 with a sentence when FILE carries the shop's mark, 3 when
it does not, and one clear error (exit 1, no traceback) for what is not an image."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from plugin.config import Config
from plugin.images.thumbnails import make_thumbnail
from plugin.images.watermark import mark_webp
from sample_data.vendure import prepare_vendure
from tests.support.cli import run_cli

SHOP = "shop-4711"


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "LOOKALIKE_WATERMARK"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A demo photo's thumbnail as stored (unmarked) and as served with the shop's mark, and a halved JPEG of the latter."""
    folder = tmp_path_factory.mktemp("watermark")
    photo = sorted((prepare_vendure(Config.from_env().data_dir).parent / "images").iterdir())[5]
    stored = make_thumbnail(Image.open(photo).convert("RGB"))[0]
    (folder / "plain.webp").write_bytes(stored)
    (folder / "marked.webp").write_bytes(mark_webp(stored, SHOP) or b"")
    marked = Image.open(folder / "marked.webp").convert("RGB")
    marked.resize((marked.width // 2, marked.height // 2), Image.LANCZOS).save(folder / "copy.jpg", quality=50)
    return {path.stem: path for path in folder.iterdir()}


def test_a_marked_file_carries_the_shops_watermark(files: dict[str, Path], env: dict[str, str]) -> None:
    for name in ("marked", "copy"):
        result = run_cli("watermark", "check", str(files[name]), "--shop", SHOP, env=env)

        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{files[name]}: carries the watermark of shop {SHOP} (score ")


def test_the_shop_may_come_from_the_setting(files: dict[str, Path], env: dict[str, str]) -> None:
    result = run_cli("watermark", "check", str(files["marked"]), env=dict(env, LOOKALIKE_WATERMARK=SHOP))

    assert result.returncode == 0 and "carries the watermark" in result.stdout


def test_an_unmarked_file_or_another_shop_is_exit_3(files: dict[str, Path], env: dict[str, str]) -> None:
    for path, shop in ((files["plain"], SHOP), (files["marked"], "another-shop")):
        result = run_cli("watermark", "check", str(path), "--shop", shop, env=env)

        assert result.returncode == 3
        assert result.stdout.startswith(f"{path}: no watermark of shop {shop} (score ")


def test_what_is_not_an_image_is_one_clear_error(files: dict[str, Path], tmp_path: Path, env: dict[str, str]) -> None:
    text, broken = tmp_path / "notes.txt", tmp_path / "broken.jpg"
    text.write_text("not a photo", encoding="utf-8")
    broken.write_bytes(files["copy"].read_bytes()[:700])  # a JPEG cut off in its first scan

    for path, says in ((text, "is not a supported image"), (broken, "cannot be decoded")):
        result = run_cli("watermark", "check", str(path), "--shop", SHOP, env=env)

        assert result.returncode == 1 and result.stderr.startswith(f"Error: {path} {says}")
        assert "Traceback" not in result.stderr


def test_without_a_shop_the_command_says_how_to_name_one(files: dict[str, Path], env: dict[str, str]) -> None:
    result = run_cli("watermark", "check", str(files["marked"]), env=env)

    assert result.returncode == 2 and "--shop ID or LOOKALIKE_WATERMARK" in result.stderr and "Traceback" not in result.stderr
