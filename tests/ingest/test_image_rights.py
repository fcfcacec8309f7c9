"""An image's licence, credit, source and Content Credentials travel from the catalogue row to the
indexed document and to the results; a licence change costs no model call."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from opensearchpy import OpenSearch

import mappings
from plugin.config import Config
from plugin.models.registry import spec_for_model
from plugin.opensearch import indices
from plugin.search.request import Query
from plugin.search.service import search
from tests.support.c2pa import (
    DIGITAL_CAPTURE,
    action,
    manifest,
    sign,
    signing_chain,
    with_changed_pixels,
)
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo
from tests.support.ingest import ingest_here, row


def _images(client: OpenSearch, config: Config, product_id: str) -> list[dict]:
    return client.get(index=config.index_alias, id=product_id)["_source"]["images"]


def test_rights_per_image_reach_the_document_and_the_results(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    front, back = product_photo(image_dir / "front.jpg", seed=1), product_photo(image_dir / "back.jpg", seed=2)
    rows = [row("coat", front, back, license="CC-BY-4.0|", photographer="Ana Lopez", source_url="https://photos.example/coat|https://photos.example/coat-back")]

    first = ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", rows))

    assert first["indexed"] == 1
    photos = _images(client, ingest_config, "coat")
    assert [(p.get("licence"), p.get("credit"), p.get("source_url")) for p in photos] == [
        ("CC-BY-4.0", "Ana Lopez", "https://photos.example/coat"),
        (None, "Ana Lopez", "https://photos.example/coat-back"),
    ]
    hit = search(client, ingest_config.index_alias, Query(text="coat", size=5)).hits[0]
    assert hit["images"][0]["licence"] == "CC-BY-4.0" and hit["images"][0]["credit"] == "Ana Lopez"

    rows[0]["license"] = "CC0-1.0"
    second = ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", rows))

    assert (second["updated"], second["images_embedded"], second["texts_embedded"]) == (1, 0, 0)
    assert [p.get("licence") for p in _images(client, ingest_config, "coat")] == ["CC0-1.0", "CC0-1.0"]


def test_content_credentials_are_kept_with_the_image_and_a_tampered_manifest_is_flagged(
    client: OpenSearch, ingest_config: Config, image_dir: Path
) -> None:
    chain = signing_chain()
    original = product_photo(image_dir / "plain.jpg", seed=3).read_bytes()
    signed = sign(original, "image/jpeg", manifest([action("c2pa.created", "Test Camera App", None, DIGITAL_CAPTURE), action("c2pa.resized")], authors=["Studio Nord"]), chain)
    (image_dir / "signed.jpg").write_bytes(signed)
    (image_dir / "tampered.jpg").write_bytes(with_changed_pixels(signed))
    rows = [row("signed", image_dir / "signed.jpg"), row("tampered", image_dir / "tampered.jpg"), row("plain", image_dir / "plain.jpg")]

    summary = ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", rows))

    assert summary["indexed"] == 3
    credentials = _images(client, ingest_config, "signed")[0]["provenance"]
    assert credentials["status"] == "untrusted" and credentials["valid"] is True  # a shop's own signer is not a public CA
    assert credentials["made_by"] == "Studio Nord"
    assert [a["action"] for a in credentials["actions"]] == ["c2pa.created", "c2pa.resized"]
    flagged = _images(client, ingest_config, "tampered")[0]["provenance"]
    assert flagged["valid"] is False and flagged["problems"]
    assert "provenance" not in _images(client, ingest_config, "plain")[0]

    rows[0]["license"] = "CC0-1.0"  # the same bytes again: the image is not read anew, its credentials stay
    again = ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", rows))

    assert (again["updated"], again["images_embedded"]) == (1, 0)
    kept = _images(client, ingest_config, "signed")[0]
    assert kept["provenance"] == credentials and kept["licence"] == "CC0-1.0"


def test_an_index_made_before_rights_takes_the_products_without_them(client: OpenSearch, ingest_config: Config, image_dir: Path) -> None:
    old = indices.create_product_index(client, ingest_config, spec_for_model(ingest_config.model), version=mappings.IMAGE_RIGHTS_VERSION - 1)
    indices.swap_alias(client, ingest_config.index_alias, old)
    photo = product_photo(image_dir / "a.jpg", seed=5)

    summary = ingest_here(client, ingest_config, write_catalogue(image_dir / "c.jsonl", [row("a", photo, license="CC0-1.0")]))

    assert summary["indexed"] == 1 and not summary.get("quarantined")
    assert "licence" not in _images(client, ingest_config, "a")[0]


def test_a_manifest_signed_under_a_configured_trust_anchor_is_trusted(
    client: OpenSearch, ingest_config: Config, image_dir: Path, tmp_path: Path
) -> None:
    chain = signing_chain()
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(chain.ca_pem, encoding="utf-8")
    photo = product_photo(image_dir / "p.jpg", seed=4).read_bytes()
    (image_dir / "signed.jpg").write_bytes(sign(photo, "image/jpeg", manifest([action("c2pa.created", "Cam", None, DIGITAL_CAPTURE)]), chain))
    trusting = dataclasses.replace(ingest_config, c2pa_trust_anchors=anchors)

    ingest_here(client, trusting, write_catalogue(image_dir / "c.jsonl", [row("signed", image_dir / "signed.jpg")]))

    assert _images(client, trusting, "signed")[0]["provenance"]["status"] == "trusted"
