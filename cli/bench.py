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
    """Ingest throughput (files to searchable documents, via broker and worker) beside the bare forward pass,
    on ONNX Runtime and, as the baseline, on PyTorch."""
    ensure_fast_malloc()
    from bench import ingest_throughput

    config = load_config()
    report = report or config.reports_dir / "bench-ingest.json"
    cluster_health(connect(config))
    result = ingest_throughput.run(config, images, report)
    click.echo(
        f"{result['images']} images: pipeline {result['pipeline_images_per_s']} images/s, "
        f"forward pass {result['forward_images_per_s']} images/s, ratio {result['pipeline_to_forward_ratio']}; "
        f"PyTorch pipeline {result['baseline_torch_images_per_s']} images/s "
        f"(forward pass {result['baseline_torch_forward_images_per_s']}), "
        f"ONNX pipeline {result['pipeline_to_baseline_torch_ratio']}x faster. Written to {report}."
    )


@bench.command("freshness")
@click.option("--products", default=1_000, show_default=True, type=click.IntRange(min=100, max=60_000), help="The live catalogue, ingested once.")
@click.option("--updates", default=40, show_default=True, type=click.IntRange(min=2, max=1_000), help="One-product runs, new and changed in turn.")
@_report_option("bench-freshness.json")
@reports_errors
def bench_freshness(products: int, updates: int, report: Path | None) -> None:
    """How soon a new or changed product is found by a search after its ingest (through the broker and
    a worker) finishes, beside a search with nothing to wait for."""
    ensure_fast_malloc()
    from bench import freshness

    config = load_config()
    report = report or config.reports_dir / "bench-freshness.json"
    cluster_health(connect(config))
    result = freshness.run(config, products, updates, report)
    click.echo(
        f"{updates} updates: found {result['p50_s']} s (p50) and {result['p95_s']} s (p95) after their ingest finished "
        f"(goal p95 <= {result['goal']['p95_s']} s: {'met' if result['goal']['met'] else 'missed'}); "
        f"end to end {result['end_to_end']['p50_s']} s (p50); a search with nothing to wait for {result['baseline_search']['p50_s']} s; "
        f"a saved search told {result['saved_search_told']['p50_s']} s (p50), at most {result['saved_search_told']['max_s']} s. "
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
    # The server's own account of each kind of query (Server-Timing), stage by stage.
    for kind, stages in result["stages_ms_p50"].items():
        click.echo(f"  {kind} p50 by stage: " + ", ".join(f"{name} {ms} ms" for name, ms in stages.items()))


@bench.command("views")
@click.option("--products", default=10_000, show_default=True, type=click.IntRange(min=1_000, max=60_000))
@click.option("--queries", default=300, show_default=True, type=click.IntRange(min=20, max=2_000))
@_report_option("bench-views.json")
@reports_errors
def bench_views(products: int, queries: int, report: Path | None) -> None:
    """What gallery views cost at scale: vectors, disk, ingest time and k-NN time beside an index without views."""
    ensure_fast_malloc()
    from bench import gallery_views

    config = load_config()
    report = report or config.reports_dir / "bench-views.json"
    cluster_health(connect(config))
    result = gallery_views.run(config, products, queries, report)
    for name, row in result["sets"].items():
        click.echo(
            f"{name}: {row['image_vectors']} vectors, {row['bytes'] / 2**20:.0f} MiB, ingest {row['ingest_seconds']} s, "
            f"k-NN p50 {row['knn_ms_p50']} ms ({row['knn_p50_to_none']}x), p99 {row['knn_ms_p99']} ms, recall@100 {row['recall_at_100']}"
        )
    click.echo(f"Written to {report}.")


@bench.command("scale")
@click.option("--products", default=1_000_000, show_default=True, type=click.IntRange(min=1_000, max=10_000_000))
@click.option("--queries", default=200, show_default=True, type=click.IntRange(min=20, max=2_000))
@click.option("--base", default=20_000, show_default=True, type=click.IntRange(min=100, max=60_000), help="Real photos whose vectors the products are made from.")
@click.option(
    "--variants",
    default="float,sq,pca256",
    show_default=True,
    help="Index layouts, the first one measured through the API too; of float, sq, pca256, pca256-sq, pca512.",
)
@click.option("--api-queries", default=100, show_default=True, type=click.IntRange(min=0, max=2_000), help="Photo queries through the HTTP API.")
@_report_option("bench-scale.json")
@reports_errors
def bench_scale(products: int, queries: int, base: int, variants: str, api_queries: int, report: Path | None) -> None:
    """A catalogue of up to millions of products on one node: recall@10 and k-NN time under filters beside exact
    search, index time, disk and memory, for float vectors, Lucene's scalar quantisation and fewer dimensions."""
    ensure_fast_malloc()
    from bench import scale

    names = [name.strip() for name in variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in scale.VARIANTS]
    if unknown or not names:
        raise click.BadParameter(f"unknown variant(s) {unknown}; choose from {', '.join(scale.VARIANTS)}", param_hint="--variants")
    config = load_config()
    report = report or config.reports_dir / "bench-scale.json"
    cluster_health(connect(config))
    result = scale.run(config, products, queries, base, names, api_queries, report)
    click.echo(scale.summary(result))
    click.echo(f"Written to {report}.")


@bench.command("failover")
@click.option("--products", default=2_000, show_default=True, type=click.IntRange(min=100, max=60_000), help="Catalogue ingested while a node is lost.")
@click.option("--kill-after", default=20.0, show_default=True, type=click.FloatRange(min=1), help="Seconds into the ingest that a node is SIGKILLed.")
@click.option("--down-for", default=30.0, show_default=True, type=click.FloatRange(min=1), help="Seconds the node stays down before it is started again.")
@click.option("--query-threads", default=2, show_default=True, type=click.IntRange(min=1, max=32))
@click.option("--port", default=9250, show_default=True, type=click.IntRange(min=1024, max=65000), help="First HTTP port of the benchmark's own three nodes.")
@_report_option("bench-failover.json")
@reports_errors
def bench_failover(products: int, kill_after: float, down_for: float, query_threads: int, port: int, report: Path | None) -> None:
    """A three-node cluster (3 shards, 1 replica) loses a node mid-ingest while shoppers search: failed queries,
    p99 during the loss, every product present exactly once, and the time back to green."""
    ensure_fast_malloc()
    from bench import failover
    from engine.local_redis import LocalRedis
    from evaluation.report import write_json

    config = load_config()
    report = report or config.reports_dir / "bench-failover.json"
    LocalRedis(config.ingest.redis_home, config.ingest.redis_port).start()
    scenario = failover.Scenario(products=products, query_threads=query_threads, kill_after=kill_after, down_for=down_for)
    result = failover.measure(config, scenario, config.engine.home.parent / "failover", port, port + 100)
    result["command"] = (
        f"lookalike bench failover --products {products} --kill-after {kill_after:g} --down-for {down_for:g} --query-threads {query_threads}"
    )
    write_json(report, result)
    click.echo(
        f"{result['queries']} queries, {result['failed']} failed; p99 {result['p99_ms_during_loss']} ms while a node was lost "
        f"({result['queries_during_loss']} queries); products {result['products_found']} of {result['products_expected']} "
        f"({result['duplicates']} duplicates); green again {result['seconds_to_green']} s after the node's restart. Written to {report}."
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


def _levels(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    from bench.load import parse_levels

    try:
        return parse_levels(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@bench.command("load")
@click.option("--products", default=5_000, show_default=True, type=click.IntRange(min=10, max=60_000), help="catalogue size (the search benchmark's, ingested once)")
@click.option("--levels", default="1,2,4,8,16", show_default=True, callback=_levels, help="concurrencies, comma-separated (1 is always run: it gives the CPU bound)")
@click.option("--seconds", default=20.0, show_default=True, type=click.FloatRange(min=1), help="measured seconds per level, after a ramp")
@click.option("--warmup", default=10.0, show_default=True, type=click.FloatRange(min=0), help="seconds at the highest level before measuring")
@click.option("--threads", default=None, type=click.IntRange(1, 64), help="lookalike serve --threads  [default: serve's, two per core]")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 16), help="lookalike serve processes, each on its own port, requests spread in turn")
@click.option("--inference-threads", default=None, type=click.IntRange(min=0), help="LOOKALIKE_INFERENCE_THREADS for the server  [default: the environment's]")
@_report_option("bench-load.json")
@reports_errors
def bench_load(
    products: int, levels: list[int], seconds: float, warmup: float, threads: int | None, processes: int, inference_threads: int | None, report: Path | None
) -> None:
    """Throughput and p50/p95/p99 of lookalike serve under 1-16 concurrent clients, beside the CPU bound."""
    ensure_fast_malloc()
    from bench import load

    config = load_config()
    report = report or config.reports_dir / "bench-load.json"
    cluster_health(connect(config))
    layout = load.Layout(processes=processes, inference_threads=inference_threads, **({"threads": threads} if threads else {}))
    result = load.run(config, products, levels, seconds, layout, report, warmup=warmup)
    for level, figures in result["levels"].items():
        click.echo(
            f"concurrency {level:>2}: {figures['qps']:6.2f} queries/s, p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
            f"p99 {figures['p99_ms']} ms, errors {figures['errors']}"
        )
    throttle = result["throttle"]
    click.echo(
        f"one client over its limit ({throttle['limit']}): {throttle['requests']} requests, {throttle['ok']} answered, "
        f"{throttle['throttled']} × 429, {throttle['server_errors']} × 5xx"
    )
    click.echo(f"CPU bound {result['cpu_bound_qps']} queries/s ({result['cpu_bound']['basis']}). Written to {report}.")
