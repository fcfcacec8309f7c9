"""``lookalike bench``: performance against a baseline measured in the same run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cli.common import ensure_fast_malloc, load_config, reports_errors
from plugin.opensearch import cluster_health, connect


def _report_option(file_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--report``: a path, or None for *file_name* in the configured reports directory."""
    return click.option(
        "--report",
        default=None,
        type=click.Path(path_type=Path),
        help=f"[default: $LOOKALIKE_REPORTS_DIR/{file_name}]",
    )


@click.group()
def bench() -> None:
    """Measure performance against a baseline in the same run; results go to $LOOKALIKE_REPORTS_DIR (default reports/)."""


@bench.command("ingest")
@click.option("--images", default=10_000, show_default=True, type=click.IntRange(min=100, max=60_000))
@_report_option("bench-ingest.json")
@reports_errors
def bench_ingest(images: int, report: Path | None) -> None:
    """Ingest throughput (files to searchable documents, via broker and worker) beside the bare forward pass."""
    ensure_fast_malloc()
    from bench import ingest_throughput

    config = load_config()
    report = report or config.reports_dir / "bench-ingest.json"
    cluster_health(connect(config))
    result = ingest_throughput.run(config, images, report)
    click.echo(
        f"{result['images']} images: pipeline {result['pipeline_images_per_s']} images/s, "
        f"forward pass {result['forward_images_per_s']} images/s, ratio {result['pipeline_to_forward_ratio']}. "
        f"Written to {report}."
    )


@bench.command("search")
@click.option("--products", default=60_000, show_default=True, type=click.IntRange(min=1_000, max=60_000))
@click.option("--queries", default=200, show_default=True, type=click.IntRange(min=20, max=2_000))
@_report_option("bench-search.json")
@reports_errors
def bench_search(products: int, queries: int, report: Path | None) -> None:
    """Search latency through the HTTP API, k-NN beside exact search, recall@10 under filters."""
    ensure_fast_malloc()
    from bench import search_latency

    config = load_config()
    report = report or config.reports_dir / "bench-search.json"
    cluster_health(connect(config))
    result = search_latency.run(config, products, queries, report)
    latency = result["latency_ms"]
    click.echo(
        f"{result['catalogue_size']} products: photo p50 {latency['photo']['p50']} ms (embedding {result['embed_photo_ms_p50']} ms), "
        f"text p50 {latency['text']['p50']} ms, hybrid p50 {latency['hybrid']['p50']} ms; k-NN {result['knn_search_ms_p50']} ms "
        f"vs exact {result['exact_search_ms_p50']} ms; recall@10 {result['recall_at_10']}. Written to {report}."
    )


@bench.command("bridge")
@_report_option("bench-bridge.json")
@reports_errors
def bench_bridge(report: Path | None) -> None:
    """How well text finds products by their photo through the offline model's bridge (demo catalogue)."""
    from bench import bridge

    config = load_config()
    report = report or config.reports_dir / "bench-bridge.json"
    result = bridge.run(config, report)
    click.echo(
        f"{result['queries']} title queries: recall@1 {result['recall_at_1']}, recall@5 {result['recall_at_5']} "
        f"(chance {result['chance_recall_at_5']}). Written to {report}."
    )


@bench.command("embed")
@_report_option("bench-embed.json")
@reports_errors
def bench_embed(report: Path | None) -> None:
    """The model on ONNX Runtime beside PyTorch: a photo and a text at batch 1, batches of 16, preprocessing, and their vectors' agreement."""
    ensure_fast_malloc()
    from bench import embed

    config = load_config()
    report = report or config.reports_dir / "bench-embed.json"
    result = embed.run(config, report)
    photo, text, batch = result["photo_ms_p50"], result["text_ms_p50"], result["batch16_images_per_s"]
    click.echo(
        f"photo {photo['onnx']} ms on ONNX Runtime vs {photo['torch']} ms on PyTorch ({result['onnx_to_torch']['photo']}x, "
        f"preprocessing {result['preprocess_ms_p50']} ms of it); text {text['onnx']} vs {text['torch']} ms; "
        f"batches of 16: {batch['onnx']} vs {batch['torch']} images/s; min cosine image {result['min_cosine']['image']}, "
        f"text {result['min_cosine']['text']}. Written to {report}."
    )
