"""Evaluation catalogues ingested through the real pipeline into indices of their own."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from evaluation.searchers import EvaluationFailed
from ingest import runner
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.opensearch.client import connect
from plugin.opensearch.documents import same_model
from plugin.opensearch.indices import index_model, indices_behind
from sample_data.distractors import prepare_distractors


def eval_config(config: Config, alias: str, image_roots: tuple[Path, ...]) -> Config:
    """*config* with the evaluation's own alias, allowed to read the evaluation's image files, and
    no stored predictions (no evaluation reads them; ``lookalike eval tagging`` predicts its own)."""
    return dataclasses.replace(
        config, index_alias=alias, fetch=dataclasses.replace(config.fetch, local_roots=tuple(r.resolve() for r in image_roots)),
        ingest=dataclasses.replace(config.ingest, predict_tags=False),
    )


def join_catalogues(target: Path, *catalogues: Path) -> Path:
    """One JSONL catalogue holding the rows of *catalogues*, rewritten only when they change."""
    text = "".join(catalogue.read_text(encoding="utf-8") for catalogue in catalogues)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


def ingest_for_evaluation(
    client: OpenSearch, config: Config, catalogue: Path, backend: EmbeddingBackend, *, rebuild: bool = True
) -> int:
    """Index *catalogue* under ``config.index_alias`` and return its product count.

    With *rebuild* false, an index that already holds this catalogue's products, made by this
    model version, is used as it is (a 10,000-photo catalogue takes minutes to embed). Every
    product must be indexed: a quarantined one would make the figures lie, so it fails the run.
    """
    expected = sum(1 for line in catalogue.read_text(encoding="utf-8").splitlines() if line.strip())
    live = indices_behind(client, config.index_alias)
    if live and not rebuild:
        if (
            same_model(index_model(client, live[0]), backend.spec)
            and client.count(index=config.index_alias)["count"] == expected
            and indexed_gallery_views(client, config.index_alias) == config.gallery_views
        ):
            return expected
    client.indices.delete(index=f"{config.index_alias}-*", expand_wildcards="all", ignore_unavailable=True)
    summary = runner.run_catalogue(client, config, catalogue, eager=True, new_index=True)
    indexed = sum(summary.get(outcome, 0) for outcome in ("indexed", "updated", "unchanged"))
    if indexed != expected:
        raise EvaluationFailed(
            f"only {indexed} of {expected} products of {catalogue} were indexed ({json.dumps(summary)}); "
            f"see `LOOKALIKE_INDEX_ALIAS={config.index_alias} lookalike ingest --failures`"
        )
    client.indices.refresh(index=config.index_alias)
    return expected


def indexed_gallery_views(client: OpenSearch, alias: str) -> tuple[str, ...]:
    """The gallery views made of the photos of a product behind *alias* (all are made alike)."""
    hits = client.search(index=alias, body={"size": 1, "_source": ["images.gallery_views"], "query": {"match_all": {}}})["hits"]["hits"]
    images = hits[0]["_source"].get("images", []) if hits else []
    return tuple(images[0].get("gallery_views", ())) if images else ()


def index_cost(client: OpenSearch, alias: str, seconds: float) -> dict[str, Any]:
    """What the index behind *alias* holds and cost: its gallery views, vectors stored, bytes on disk, ingest time."""
    stats = client.indices.stats(index=alias, metric="docs,store")["_all"]["primaries"]
    products = client.count(index=alias)["count"]
    return {
        "gallery_views": list(indexed_gallery_views(client, alias)),
        "products": products,
        # Every nested ``images`` entry is a Lucene document of its own: a photo or a view, each one vector.
        "image_vectors": stats["docs"]["count"] - products,
        "bytes": stats["store"]["size_in_bytes"],
        "ingest_seconds": round(seconds, 1),
    }


def index_among_distractors(config: Config, alias: str, shop: Path, backend: EmbeddingBackend, *, rebuild: bool = True) -> tuple[Config, int]:
    """*shop*'s catalogue joined with the distractor photos, indexed under *alias*: the evaluation's
    configuration (allowed to read both sets of image files) and the number of products indexed."""
    distractors = prepare_distractors(config.data_dir)
    catalogue = join_catalogues(config.data_dir / "eval" / f"{alias}-and-distractors.jsonl", shop, distractors)
    config = eval_config(config, alias, (shop.parent / "images", distractors.parent))
    return config, ingest_for_evaluation(connect(config), config, catalogue, backend, rebuild=rebuild)
