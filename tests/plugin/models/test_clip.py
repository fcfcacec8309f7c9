"""The CLIP backend, on a tiny CLIP built here and loaded through the same code as a user's checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch
from PIL import Image

from ingest import runner
from plugin.config import Config
from plugin.models.registry import load_backend, spec_for_model
from plugin.opensearch.indices import index_model, indices_behind
from tests.support.catalogues import write_catalogue
from tests.support.images import product_photo


def test_a_clip_checkpoint_embeds_images_and_texts_into_one_space(tiny_clip: Path, config: Config, tmp_path: Path) -> None:
    backend = load_backend(f"clip:{tiny_clip}")
    photos = [Image.open(product_photo(tmp_path / f"{i}.png", seed=i)).convert("RGB") for i in range(3)]

    images = backend.embed_images(photos)
    texts = backend.embed_texts(["red mug", "blue vase"])

    assert backend.spec.shared_space and backend.spec.image_dims == backend.spec.text_dims == 16
    assert images.shape == (3, 16) and texts.shape == (2, 16)
    assert np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert np.allclose(backend.embed_texts_for_images(["red mug"]), texts[:1], atol=1e-6)
    assert np.allclose(backend.embed_images(photos[:1]), images[:1], atol=1e-5)  # batching changes nothing
    assert not np.allclose(images[0], images[1])
    assert spec_for_model(f"clip:{tiny_clip}") == backend.spec


def test_a_catalogue_ingested_with_clip_gets_an_index_sized_for_it(
    tiny_clip: Path, client: OpenSearch, config: Config, tmp_path: Path
) -> None:
    clip_config = dataclasses.replace(
        config, model=f"clip:{tiny_clip}", fetch=dataclasses.replace(config.fetch, local_roots=(tmp_path,))
    )
    catalogue = write_catalogue(
        tmp_path / "c.jsonl", [{"id": "a", "title": "Red mug", "images": [str(product_photo(tmp_path / "a.png", seed=1))]}]
    )

    summary = runner.run_catalogue(client, clip_config, catalogue, eager=True)

    assert summary["indexed"] == 1
    meta = index_model(client, indices_behind(client, clip_config.index_alias)[0])
    assert (meta["embedding_model"], meta["image_dims"], meta["text_dims"], meta["shared_space"]) == (f"clip:{tiny_clip}", 16, 16, True)
    assert len(client.get(index=clip_config.index_alias, id="a")["_source"]["images"][0]["vector"]) == 16


def test_changing_the_model_re_embeds_into_a_new_index_and_then_moves_the_alias(
    tiny_clip: Path, client: OpenSearch, config: Config, tmp_path: Path
) -> None:
    clip_config = dataclasses.replace(
        config, model=f"clip:{tiny_clip}", fetch=dataclasses.replace(config.fetch, local_roots=(tmp_path,))
    )
    rows = [{"id": f"p{i}", "title": f"Thing {i}", "images": [str(product_photo(tmp_path / f"{i}.png", seed=i))]} for i in range(5)]
    catalogue = write_catalogue(tmp_path / "c.jsonl", rows)
    runner.run_catalogue(client, clip_config, catalogue, eager=True)
    [old] = indices_behind(client, clip_config.index_alias)
    offline_config = dataclasses.replace(clip_config, model="offline")

    with pytest.raises(runner.ModelMismatch, match="--new-index"):
        runner.run_catalogue(client, offline_config, catalogue, eager=True)
    summary = runner.run_catalogue(client, offline_config, catalogue, eager=True, new_index=True)

    [new] = indices_behind(client, clip_config.index_alias)
    assert new != old and summary["indexed"] == 5
    assert index_model(client, new)["image_dims"] == 1280
    assert client.count(index=old)["count"] == 5  # kept for a rollback
    assert len(client.get(index=clip_config.index_alias, id="p3")["_source"]["images"][0]["vector"]) == 1280
