"""Copy detection through the admin: a photo sent finds the catalogue photo it copies, even a close
crop of it; the catalogue scan finds products that share a copied photo, whole or cropped;
``lookalike copies`` prints the same."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageDraw, ImageEnhance

from api.app import create_app
from ingest import runner
from plugin.config import Config
from plugin.copies import scan
from plugin.copies.evidence import CopyRule
from plugin.copies.finder import load_keypoints
from plugin.opensearch.client import connect
from sample_data.distractors import prepare_distractors
from sample_data.vendure import prepare_vendure
from tests.support.api import KEY
from tests.support.cli import run_cli

HEADERS = {"X-API-Key": KEY}
ORIGINALS = ("Laptop", "Road Bike", "Tent", "Balloon Chair", "Orchid", "Basketball")


def _copied(photo: Image.Image) -> Image.Image:
    """What another seller does to a photo: crop it, shrink it, brighten it and put a caption on it."""
    width, height = photo.size
    copy = photo.crop((width // 10, height // 10, width - width // 10, height - height // 10)).resize((500, 500 * height // width))
    copy = ImageEnhance.Brightness(copy).enhance(1.15)
    ImageDraw.Draw(copy).text((20, copy.height - 40), "SALE -50%", fill=(255, 0, 0))
    return copy


def _close_crop(photo: Image.Image) -> Image.Image:
    """A close-up cut from the middle of a photo: half of each side, nothing else changed."""
    width, height = photo.size
    return photo.crop((width // 4, height // 4, width // 4 + width // 2, height // 4 + height // 2))


def _jpeg(photo: Image.Image) -> bytes:
    buffer = io.BytesIO()
    photo.convert("RGB").save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def shop(base_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, dict[str, dict[str, Any]]]]:
    """Six demo products, a seventh from another seller whose photo is a copy of the Laptop's, and an
    eighth from a third seller whose photo is a close crop of the Road Bike's."""
    source = prepare_vendure(base_config.data_dir)
    rows = [row for row in map(json.loads, source.read_text(encoding="utf-8").splitlines()) if row["title"] in ORIGINALS]
    folder = tmp_path_factory.mktemp("copies")
    laptop = next(row for row in rows if row["title"] == "Laptop")
    copy_path = folder / "laptop-copy.jpg"
    copy_path.write_bytes(_jpeg(_copied(Image.open(laptop["images"][0]))))
    rows.append({"id": "knockoff-laptop", "title": "Notebook computer", "brand": "Cheapo", "category": "Electronics", "images": [str(copy_path)]})
    bike = next(row for row in rows if row["title"] == "Road Bike")
    crop_path = folder / "bike-crop.jpg"
    crop_path.write_bytes(_jpeg(_close_crop(Image.open(bike["images"][0]))))
    rows.append({"id": "cropped-bike", "title": "Bicycle frame", "brand": "Snipper", "category": "Sports", "images": [str(crop_path)]})
    catalogue = folder / "catalogue.jsonl"
    catalogue.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    config = dataclasses.replace(
        base_config,
        index_alias=f"test-copies-{uuid.uuid4().hex[:8]}",
        admin_key=KEY,
        fetch=dataclasses.replace(base_config.fetch, local_roots=(source.parent / "images", folder)),
    )
    client = connect(config)
    runner.run_catalogue(client, config, catalogue, eager=True)
    yield config, {row["title"]: row for row in rows}
    client.indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)


@pytest.fixture(scope="module")
def api(shop: tuple[Config, dict[str, dict[str, Any]]]) -> FlaskClient:
    return create_app(shop[0], warm=False).test_client()


def _send(api: FlaskClient, data: bytes) -> Any:
    response = api.post("/admin/api/copies", data={"image": (io.BytesIO(data), "photo.jpg")}, content_type="multipart/form-data", headers=HEADERS)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["copies"]


def test_an_edited_copy_finds_the_photo_it_copies_with_its_evidence(api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]) -> None:
    tent = shop[1]["Tent"]

    copies = _send(api, _jpeg(_copied(Image.open(tent["images"][0]))))

    assert copies and copies[0]["product_id"] == tent["id"]
    assert copies[0]["image_url"] == tent["images"][0]
    assert {"hash_distance", "similarity", "reason", "brand"} <= copies[0].keys()
    assert all(copy["product_id"] != shop[1]["Laptop"]["id"] for copy in copies)


def test_a_flipped_copy_is_caught_by_the_mirrored_hash(api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]) -> None:
    chair = shop[1]["Balloon Chair"]

    copies = _send(api, _jpeg(Image.open(chair["images"][0]).transpose(Image.FLIP_LEFT_RIGHT)))

    assert copies[0]["product_id"] == chair["id"] and copies[0]["mirrored"] is True


def test_a_close_crop_finds_the_photo_it_was_cut_from_by_matching_keypoints(api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]) -> None:
    orchid = shop[1]["Orchid"]

    copies = _send(api, _jpeg(_close_crop(Image.open(orchid["images"][0]))))

    assert [copy["product_id"] for copy in copies] == [orchid["id"]]
    assert copies[0]["keypoints"] >= CopyRule().keypoints and "details match" in copies[0]["reason"]


def test_photos_that_copy_nothing_find_nothing(api: FlaskClient, base_config: Config) -> None:
    distractors = sorted((prepare_distractors(base_config.data_dir).parent / "photos").glob("*.png"))[:5]
    for path in distractors:
        assert _send(api, _jpeg(Image.open(path))) == [], path.name


def test_a_copies_request_without_a_usable_photo_is_refused_clearly(api: FlaskClient) -> None:
    assert api.post("/admin/api/copies", json={}, headers=HEADERS).status_code == 400
    corrupt = api.post("/admin/api/copies", data={"image": (io.BytesIO(b"\xff\xd8 not a jpeg"), "x.jpg")}, content_type="multipart/form-data", headers=HEADERS)
    assert corrupt.status_code in (415, 422) and "error" in corrupt.get_json()
    assert api.post("/admin/api/copies", json={"image_base64": "%%%"}, headers=HEADERS).status_code == 400
    assert api.post("/admin/api/copies", json={"image_base64": "aGk="}).status_code == 401


def test_the_catalogue_scan_finds_the_seller_who_copied_a_photo(api: FlaskClient, shop: tuple[Config, dict[str, dict[str, Any]]]) -> None:
    scan = api.get("/admin/api/copies", headers=HEADERS).get_json()

    assert scan["photos"] == len(shop[1])
    groups = sorted(group["products"] for group in scan["groups"])
    assert groups == sorted([sorted([shop[1]["Laptop"]["id"], "knockoff-laptop"]), sorted([shop[1]["Road Bike"]["id"], "cropped-bike"])])
    assert {"Cheapo", "Snipper"} <= {seller for group in scan["groups"] for seller in group["sellers"]}
    page = api.get("/admin/copies", headers=HEADERS).get_data(as_text=True)
    assert "knockoff-laptop" in page and "Cheapo" in page and "cropped-bike" in page


def test_lookalike_copies_prints_each_group_with_its_evidence(shop: tuple[Config, dict[str, dict[str, Any]]], base_config: Config, tmp_path: Path) -> None:
    env = dict(os.environ, OPENSEARCH_URL=base_config.opensearch_url, LOOKALIKE_INDEX_ALIAS=shop[0].index_alias)
    report = tmp_path / "copies.json"

    done = run_cli("copies", "--json", str(report), env=env)

    assert done.returncode == 0, done.stderr
    assert f"{len(shop[1])} photos scanned: 2 pairs" in done.stdout
    assert "knockoff-laptop" in done.stdout and "Cheapo" in done.stdout and "details match" in done.stdout
    assert {"Cheapo", "Snipper"} <= {seller for group in json.loads(report.read_text())["groups"] for seller in group["sellers"]}


def test_a_scan_without_keypoints_misses_the_crop_but_not_the_whole_copy(shop: tuple[Config, dict[str, dict[str, Any]]], base_config: Config) -> None:
    env = dict(os.environ, OPENSEARCH_URL=base_config.opensearch_url, LOOKALIKE_INDEX_ALIAS=shop[0].index_alias)

    done = run_cli("copies", "--neighbours", "0", env=env)

    assert done.returncode == 0, done.stderr
    assert f"{len(shop[1])} photos scanned: 1 pairs" in done.stdout and "cropped-bike" not in done.stdout


def test_an_empty_catalogue_has_no_copies_rather_than_an_error(base_config: Config) -> None:
    empty = dataclasses.replace(base_config, index_alias=f"test-empty-{uuid.uuid4().hex[:8]}", admin_key=KEY)
    client = connect(empty)
    client.indices.create(index=f"{empty.index_alias}-v4-00000000000000000000", body={"aliases": {empty.index_alias: {}}})
    try:
        scan = create_app(empty, warm=False).test_client().get("/admin/api/copies", headers=HEADERS)
    finally:
        client.indices.delete(index=f"{empty.index_alias}*", expand_wildcards="all", ignore_unavailable=True)

    assert scan.status_code == 200, scan.get_json()
    assert (scan.get_json()["photos"], scan.get_json()["groups"]) == (0, [])


def test_the_scan_reads_each_photos_keypoints_once_however_many_blocks_it_takes(
    shop: tuple[Config, dict[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = shop[0]
    client = connect(config)
    monkeypatch.setattr(scan, "BLOCK", 2)  # eight photos: four blocks
    asked: list[str] = []

    def reader(fingerprints: list[str]) -> dict[str, Any]:
        asked.extend(fingerprints)
        return load_keypoints(client, config.thumbnail_index, fingerprints, mirrored=True)

    pairs = scan.scan_catalogue(scan.load_catalogue_images(client, config.index_alias), CopyRule(), reader)

    assert len(asked) == len(set(asked)) > 0
    assert {pair.first.product_id for pair in pairs} | {pair.second.product_id for pair in pairs} >= {"cropped-bike", "knockoff-laptop"}
