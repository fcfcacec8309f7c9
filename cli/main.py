"""``lookalike``: the product's command line.

Each subcommand is a thin layer over ``plugin`` or ``engine``: it reads the configuration
from the environment, calls one function, and turns a :class:`~plugin.errors.LookalikeError`
into one clear sentence on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from tqdm import tqdm

from engine.local_node import EngineStartFailed, LocalNode
from engine.local_redis import LocalRedis
from plugin.opensearch import indices as index_lifecycle
from plugin.opensearch.client import cluster_health, connect
from plugin.config import Config
from plugin.models.base import OFFLINE_DEFAULT
from plugin.errors import LookalikeError, ModelMismatch

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EngineStartFailed as exc:
            click.echo(f"Error: {exc}", err=True)
            click.echo(exc.log_tail, err=True)
            sys.exit(1)
        except LookalikeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _config() -> Config:
    try:
        return Config.from_env()
    except LookalikeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


@click.group()
@click.version_option(package_name="lookalike")
def main() -> None:
    """Visual product search on OpenSearch: search a catalogue by photo, by text, or both."""


# -- engine ----------------------------------------------------------------------------------


@main.group()
def engine() -> None:
    """Run the local OpenSearch node (OpenSearch 2.19.1 with k-NN, from Maven Central)."""


@engine.command("start")
@_reports_errors
def engine_start() -> None:
    """Start the node in the background and wait until it is healthy."""
    node = LocalNode(_config().engine)
    already = node.running_pid() is not None
    url = node.start()
    click.echo(f"OpenSearch {'already running' if already else 'started'} at {url} (logs: {node.log_file})")


@engine.command("stop")
@_reports_errors
def engine_stop() -> None:
    """Shut the node down cleanly; its data stays for the next start."""
    node = LocalNode(_config().engine)
    click.echo("OpenSearch stopped." if node.stop() else "OpenSearch was not running.")


@engine.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_reports_errors
def engine_status(as_json: bool) -> None:
    """Say whether the node runs, and its version, health and plugins. Exit 3 if it does not run."""
    status = LocalNode(_config().engine).status()
    if as_json:
        click.echo(json.dumps(status.__dict__ | {"plugins": list(status.plugins)}))
    elif not status.running:
        click.echo(f"OpenSearch is not running (expected at {status.url}).")
    else:
        click.echo(f"OpenSearch {status.version} is running at {status.url} (pid {status.pid}, health {status.health}).")
        click.echo(f"Plugins: {', '.join(status.plugins) or '(none reported)'}")
    if not status.running:
        sys.exit(3)


@engine.command("build")
@_reports_errors
def engine_build() -> None:
    """Fetch OpenSearch and its plugins from Maven Central and compile the launcher (once)."""
    node = LocalNode(_config().engine)
    node.build()
    click.echo(f"Local node built in {node.config.build_dir}.")


@engine.command("logs")
@click.option("-n", "--lines", default=40, show_default=True, type=click.IntRange(min=1), help="How many lines from the end.")
def engine_logs(lines: int) -> None:
    """Print the end of the node's log."""
    click.echo(LocalNode(_config().engine).log_tail(lines))


# -- index -----------------------------------------------------------------------------------


@main.group()
def index() -> None:
    """Create product indices and move the alias between them."""


@index.command("create")
@click.option("--activate", is_flag=True, help="Point the alias at the new index at once.")
@_reports_errors
def index_create(activate: bool) -> None:
    """Create a new, empty product index for the configured embedding model."""
    config = _config()
    client = connect(config)
    cluster_health(client)
    name = index_lifecycle.create_product_index(client, config, OFFLINE_DEFAULT)
    click.echo(f"Created {name}.")
    if activate:
        index_lifecycle.swap_alias(client, config.index_alias, name)
        click.echo(f"Alias {config.index_alias} now points at {name}.")


@index.command("list")
@_reports_errors
def index_list() -> None:
    """List product indices, marking the one behind the alias."""
    config = _config()
    client = connect(config)
    cluster_health(client)
    live = set(index_lifecycle.indices_behind(client, config.index_alias))
    rows = client.cat.indices(index=f"{config.index_alias}-v*", format="json", h="index,docs.count,store.size")
    for row in sorted(rows, key=lambda r: r["index"]):
        marker = "*" if row["index"] in live else " "
        click.echo(f"{marker} {row['index']}  docs={row['docs.count']}  size={row['store.size']}")
    if not rows:
        click.echo(f"No product indices (pattern {config.index_alias}-v*).")


@index.command("swap")
@click.argument("name")
@_reports_errors
def index_swap(name: str) -> None:
    """Point the alias at index NAME, atomically."""
    config = _config()
    client = connect(config)
    cluster_health(client)
    previous = index_lifecycle.swap_alias(client, config.index_alias, name)
    click.echo(f"Alias {config.index_alias} now points at {name} (before: {', '.join(previous) or 'nothing'}).")


# -- broker, worker, ingest -------------------------------------------------------------------


@main.group()
def broker() -> None:
    """Run the local Redis that carries tasks to the ingest workers."""


@broker.command("start")
@_reports_errors
def broker_start() -> None:
    """Start Redis in the background (idempotent)."""
    config = _config()
    redis = LocalRedis(config.ingest.redis_home, config.ingest.redis_port)
    click.echo(f"Redis running at {redis.start()} (files in {redis.home})")


@broker.command("stop")
@_reports_errors
def broker_stop() -> None:
    """Stop the local Redis."""
    config = _config()
    stopped = LocalRedis(config.ingest.redis_home, config.ingest.redis_port).stop()
    click.echo("Redis stopped." if stopped else "Redis was not running.")


@broker.command("status")
@_reports_errors
def broker_status() -> None:
    """Say whether the local Redis runs. Exit 3 if it does not."""
    config = _config()
    redis = LocalRedis(config.ingest.redis_home, config.ingest.redis_port)
    if redis.is_running():
        click.echo(f"Redis is running at {redis.url}.")
    else:
        click.echo(f"Redis is not running (expected at {redis.url}).")
        sys.exit(3)


@main.command()
@click.option("--concurrency", "-c", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--queue", "-Q", default=None, help="Take tasks from this queue only (default: the shared one).")
def worker(concurrency: int, loglevel: str, queue: str | None) -> None:
    """Start a Celery ingest worker (scale out by running more, on any machine that reaches the broker)."""
    _ensure_fast_malloc()
    from ingest.celery_app import app
    from ingest.context import current_context

    if concurrency == 1:
        current_context()  # load the model before announcing "ready", not on the first task
        pool = ["--pool=solo"]
    else:
        pool = ["--pool=prefork", f"--concurrency={concurrency}"]  # each process loads it on its first task
    queues = [f"--queues={queue}"] if queue else []
    app.worker_main(["worker", f"--loglevel={loglevel}", *pool, *queues, "--without-gossip", "--without-mingle"])


def _ensure_fast_malloc() -> None:
    """Re-run this command with glibc malloc tuned for batched inference, unless already tuned.

    With the default settings, batched CPU inference spends much of its time in page faults
    as large buffers are mapped and unmapped on every batch (measured: ~2x slower).
    """
    if os.environ.get("MALLOC_MMAP_MAX_") is None and sys.platform.startswith("linux"):
        env = dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="100000000000")
        os.execve(sys.argv[0], sys.argv, env)


@main.command()
@click.argument("catalogue", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--eager", is_flag=True, help="Run the tasks in this process, without a broker or workers.")
@click.option("--failures", is_flag=True, help="List quarantined rows, images and products, and exit.")
@click.option("--retry-failed", is_flag=True, help="Ingest the quarantined products again.")
@click.option("--timeout", type=float, default=None, help="Give up waiting after this many seconds.")
@click.option(
    "--new-index",
    is_flag=True,
    help="Embed everything into a new index (a new model or mapping) and move the alias to it when complete.",
)
@_reports_errors
def ingest(catalogue: Path | None, eager: bool, failures: bool, retry_failed: bool, timeout: float | None, new_index: bool) -> None:
    """Ingest CATALOGUE (JSONL or CSV): every product becomes searchable or is quarantined with its reason."""
    from ingest import runner

    config = _config()
    client = connect(config)
    cluster_health(client)
    if failures:
        _print_failures(client, config)
        return
    if retry_failed == (catalogue is not None):
        raise click.UsageError("give a CATALOGUE, or --retry-failed, or --failures")
    if new_index and catalogue is None:
        raise click.UsageError("--new-index needs the full CATALOGUE")
    with _progress_bar(hint_stalls=not eager) as show:
        if retry_failed:
            summary = runner.retry_failed(client, config, eager=eager, progress=show, timeout=timeout)
        else:
            assert catalogue is not None
            summary = runner.run_catalogue(
                client, config, catalogue, eager=eager, progress=show, timeout=timeout, new_index=new_index
            )
    click.echo(_done_line(summary))
    click.echo(f"Model calls: {summary.get('images_embedded', 0)} images, {summary.get('texts_embedded', 0)} texts embedded.")
    if new_index:
        click.echo(f"Alias {config.index_alias} now points at {summary['new_index']}; the previous index is kept (lookalike index list).")
    if summary.get("quarantined"):
        click.echo("See why with: lookalike ingest --failures")


@contextlib.contextmanager
def _progress_bar(hint_stalls: bool) -> Iterator[Callable[[dict[str, int]], None]]:
    """A progress bar fed with run summaries; optionally says when no worker seems to pick up tasks."""
    from ingest.runner import STALL_HINT_SECONDS

    with tqdm(total=0, unit="product", dynamic_ncols=True, disable=None) as bar:
        hinted = False

        def show(summary: dict[str, int]) -> None:
            nonlocal hinted
            bar.total = summary["total"]
            bar.update(summary["done"] - bar.n)
            if hint_stalls and not hinted and summary.get("stalled_seconds", 0) >= STALL_HINT_SECONDS:
                hinted = True
                bar.write("No product finished for a while: is a worker running? Start one with 'lookalike worker'.")

        yield show


def _done_line(summary: dict[str, int]) -> str:
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("indexed", "updated", "unchanged", "deleted", "quarantined"))
    return f"Done: {counts}."


def _print_failures(client: Any, config: Config) -> None:
    from plugin.catalogue.quarantine import list_records

    records = list_records(client, config)
    if not records:
        click.echo("The quarantine is empty.")
        return
    for record in records:
        where = f"line {record['line']}" if record.get("kind") == "row" else f"product {record.get('product_id')}"
        source = f" {record['source']}" if record.get("source") else ""
        click.echo(f"{record['kind']:<8} {record['reason']:<16} {where}{source}: {record['message']}")
    click.echo(f"{len(records)} quarantined; retry products with: lookalike ingest --retry-failed")


# -- serve ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@_reports_errors
def serve(host: str, port: int, threads: int) -> None:
    """Serve the search API (POST /search, GET /products/<id>[/similar], /thumbnails/<fp>, /health)."""
    from api.app import serve as serve_api

    config = _config()
    click.echo(f"lookalike API on http://{host}:{port} (OpenSearch {config.opensearch_url}, alias {config.index_alias})")
    serve_api(config, host, port, threads)


# -- bench ---------------------------------------------------------------------------------


@main.group()
def bench() -> None:
    """Measure performance against a baseline in the same run; results go to reports/."""


@bench.command("ingest")
@click.option("--images", default=10_000, show_default=True, type=click.IntRange(min=100, max=60_000))
@click.option("--report", default="reports/bench-ingest.json", show_default=True, type=click.Path(path_type=Path))
@_reports_errors
def bench_ingest(images: int, report: Path) -> None:
    """Ingest throughput (files to searchable documents, via broker and worker) beside the bare forward pass."""
    _ensure_fast_malloc()
    from bench import ingest_throughput

    config = _config()
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
@click.option("--report", default="reports/bench-search.json", show_default=True, type=click.Path(path_type=Path))
@_reports_errors
def bench_search(products: int, queries: int, report: Path) -> None:
    """Search latency through the HTTP API, k-NN beside exact search, recall@10 under filters."""
    _ensure_fast_malloc()
    from bench import search_latency

    config = _config()
    cluster_health(connect(config))
    result = search_latency.run(config, products, queries, report)
    latency = result["latency_ms"]
    click.echo(
        f"{result['catalogue_size']} products: photo p50 {latency['photo']['p50']} ms (embedding {result['embed_photo_ms_p50']} ms), "
        f"text p50 {latency['text']['p50']} ms, hybrid p50 {latency['hybrid']['p50']} ms; k-NN {result['knn_search_ms_p50']} ms "
        f"vs exact {result['exact_search_ms_p50']} ms; recall@10 {result['recall_at_10']}. Written to {report}."
    )


@bench.command("bridge")
@click.option("--report", default="reports/bench-bridge.json", show_default=True, type=click.Path(path_type=Path))
@_reports_errors
def bench_bridge(report: Path) -> None:
    """How well text finds products by their photo through the offline model's bridge (demo catalogue)."""
    from bench import bridge

    result = bridge.run(_config(), report)
    click.echo(
        f"{result['queries']} title queries: recall@1 {result['recall_at_1']}, recall@5 {result['recall_at_5']} "
        f"(chance {result['chance_recall_at_5']}). Written to {report}."
    )


# -- eval ------------------------------------------------------------------------------------


@main.group("eval")
def eval_group() -> None:
    """Measure search quality through the API beside exact search; reports go to reports/."""


def _echo(line: str) -> None:
    click.echo(line, err=True)


def _written(paths: list[Path]) -> str:
    return "Written: " + ", ".join(str(path) for path in paths) + "."


@eval_group.command("prepare")
@_reports_errors
def eval_prepare() -> None:
    """Fetch and unpack the evaluation data sets once (demo catalogue, distractor photos, Fashion-MNIST)."""
    from sample_data.fashion_mnist import write_catalogue
    from sample_data.distractors import prepare_distractors
    from sample_data.vendure import prepare_vendure

    config = _config()
    for path in (
        prepare_vendure(config.data_dir),
        prepare_distractors(config.data_dir),
        write_catalogue(config.data_dir / "fashion-mnist", 10_000, seed=0),
    ):
        click.echo(f"ready: {path}")


@eval_group.command("vendure")
@click.option("--compare-views", is_flag=True, help="Also compare query view sets (test-time augmentation) by exact search.")
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(path_type=Path))
@_reports_errors
def eval_vendure(compare_views: bool, reports_dir: Path) -> None:
    """Degraded photos of the demo products (blur, rotation, occlusion, light, crops ...) must find their product."""
    _ensure_fast_malloc()
    from evaluation.report import write_report
    from evaluation.vendure import MISSES_SHEET, draw_misses, evaluate_vendure
    from sample_data.vendure import prepare_vendure

    config = _config()
    figures = evaluate_vendure(config, compare_views=compare_views, progress=_echo)
    command = "lookalike eval vendure" + (" --compare-views" if compare_views else "")
    paths = write_report("vendure", figures, reports_dir, command)
    sheet = draw_misses(figures, prepare_vendure(config.data_dir), reports_dir / MISSES_SHEET)
    paths += [sheet] if sheet else []
    click.echo(
        f"Mean recall@1 over {len(figures['recall_at_1']) - 1} degradations: served {figures['mean_recall_at_1']:.3f}, "
        f"exact {figures['exact']['mean_recall_at_1']:.3f}; lowest served {figures['min_recall_at_1']:.3f}. {_written(paths)}"
    )


@eval_group.command("fashion")
@click.option("--catalogue", "catalogue_size", default=10_000, show_default=True, type=click.IntRange(min=100, max=60_000))
@click.option("--queries", default=1_000, show_default=True, type=click.IntRange(min=10, max=10_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--rebuild", is_flag=True, help="Ingest the catalogue again even if an index of it exists.")
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(path_type=Path))
@_reports_errors
def eval_fashion(catalogue_size: int, queries: int, seed: int, rebuild: bool, reports_dir: Path) -> None:
    """Fashion-MNIST class retrieval: precision@10, mAP@100, nDCG@10 and recall@1, served and exact."""
    _ensure_fast_malloc()
    from evaluation.fashion import evaluate_fashion
    from evaluation.report import write_report

    figures = evaluate_fashion(_config(), catalogue_size=catalogue_size, queries=queries, seed=seed, rebuild=rebuild, progress=_echo)
    command = f"lookalike eval fashion --catalogue {catalogue_size} --queries {queries} --seed {seed}"
    paths = write_report("fashion", figures, reports_dir, command)
    served, exact = figures["served"], figures["exact"]
    click.echo(
        f"precision@10 served {served['precision_at_10']:.4f} / exact {exact['precision_at_10']:.4f}, "
        f"mAP@100 {served['map_at_100']:.4f} / {exact['map_at_100']:.4f}. {_written(paths)}"
    )


@eval_group.command("judged")
@click.argument("judged_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default="judged", show_default=True, help="Report name: reports/eval-<name>.json (starts with 'judged').")
@click.option("--reports", "reports_dir", default="reports", show_default=True, type=click.Path(path_type=Path))
@_reports_errors
def eval_judged(judged_file: Path, name: str, reports_dir: Path) -> None:
    """Evaluate a shop's own judged queries (JSON Lines) against the live index."""
    from evaluation.judged import evaluate_judged
    from evaluation.report import write_report

    if not name.startswith("judged"):
        raise click.BadParameter("must start with 'judged'", param_hint="--name")
    figures = evaluate_judged(_config(), judged_file, progress=_echo)
    paths = write_report(name, figures, reports_dir, f"lookalike eval judged {judged_file}")
    click.echo(f"nDCG@10 served {figures['served']['ndcg_at_10']:.4f} / exact {figures['exact']['ndcg_at_10']:.4f}. {_written(paths)}")


@eval_group.command("gate")
@click.option("--reference", default="reports/eval-gate.json", show_default=True, type=click.Path(path_type=Path))
@click.option("--update", is_flag=True, help="Write the measured figures as the new reference instead of comparing.")
@_reports_errors
def eval_gate(reference: Path, update: bool) -> None:
    """The small evaluation CI runs: fails when a figure falls below the reference by more than its tolerance."""
    _ensure_fast_malloc()
    from evaluation.gate import compare, run_gate

    measured = run_gate(_config(), progress=_echo)
    if update:
        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_text(json.dumps(measured, indent=2) + "\n", encoding="utf-8")
        click.echo(f"Reference figures written to {reference}.")
        return
    if not reference.is_file():
        raise click.ClickException(f"no reference figures at {reference}; write them with --update")
    drops = compare(measured, json.loads(reference.read_text(encoding="utf-8")))
    for drop in drops:
        click.echo(f"DROP {drop}", err=True)
    if drops:
        sys.exit(1)
    click.echo(f"No figure fell below {reference}.")


# -- demo ------------------------------------------------------------------------------------


@main.command()
@_reports_errors
def demo() -> None:
    """Start the local node, ingest the demo catalogue (Vendure's 54 products), and find a product by photo."""
    from ingest import runner
    from sample_data.vendure import prepare_vendure

    config = _config()
    node = LocalNode(config.engine)
    click.echo("Starting the local OpenSearch node ...")
    url = node.start()
    catalogue = prepare_vendure(config.data_dir)
    images = catalogue.parent / "images"
    config = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, local_roots=(*config.fetch.local_roots, images)))
    client = connect(config)
    health = cluster_health(client)
    click.echo(f"OpenSearch {node.status().version} at {url}: cluster {health['cluster_name']} is {health['status']}.")
    click.echo(f"Ingesting the demo catalogue {catalogue} in this process (--eager) ...")
    try:
        with _progress_bar(hint_stalls=False) as show:
            summary = runner.run_catalogue(client, config, catalogue, eager=True, progress=show)
    except ModelMismatch as exc:
        # An index left by an earlier version of the model: the demo re-embeds into a new one.
        click.echo(f"{exc}\nRe-embedding the demo catalogue into a new index ...")
        with _progress_bar(hint_stalls=False) as show:
            summary = runner.run_catalogue(client, config, catalogue, eager=True, progress=show, new_index=True)
    click.echo(_done_line(summary))
    live = index_lifecycle.indices_behind(client, config.index_alias)[0]
    click.echo(f"Alias {config.index_alias} -> {live}, {client.count(index=config.index_alias)['count']} products.")
    _demo_photo_lookup(client, config, catalogue)
    click.echo("Stop the node with: .venv/bin/lookalike engine stop")


def _demo_photo_lookup(client: Any, config: Config, catalogue: Path) -> None:
    """Blur, crop and darken one catalogue photo, and look it up among the product images."""
    from PIL import ImageEnhance, ImageFilter

    from plugin.models.registry import load_backend
    from plugin.images.decode import decode_image

    first = json.loads(catalogue.read_text(encoding="utf-8").splitlines()[7])
    photo = decode_image(Path(first["images"][0]).read_bytes())
    width, height = photo.size
    degraded = photo.crop((width // 10, height // 10, width * 9 // 10, height * 9 // 10)).filter(ImageFilter.GaussianBlur(3))
    degraded = ImageEnhance.Brightness(degraded).enhance(0.6)
    vector = load_backend(config.model, config.torch_threads).embed_images([degraded])[0].tolist()
    response = client.search(
        index=config.index_alias,
        body={
            "size": 3,
            "_source": ["title"],
            "query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector, "k": 3}}}}},
        },
    )
    click.echo(f"A blurred, cropped, darkened photo of {first['title']!r} finds:")
    for rank, hit in enumerate(response["hits"]["hits"], start=1):
        click.echo(f"  {rank}. {hit['_source']['title']}  (score {hit['_score']:.3f})")
