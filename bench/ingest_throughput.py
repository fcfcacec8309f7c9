"""``lookalike bench ingest``: end-to-end ingest throughput beside the bare model forward pass,
on ONNX Runtime (the default) and, as the baseline, on PyTorch.

Everything is measured in the same run on the same images. For each runtime: first the image
model alone (decode, resize and forward, in batches the size the workers use; the median of
three passes for ONNX, one pass for PyTorch) and, for ONNX and for context, the text model
over the products' texts; then the whole pipeline from files on disk to searchable documents
through the real Redis broker and a real worker process started with that runtime (fetch,
fingerprint, decode, embed images and texts, label, perceptual hash, thumbnail, bulk index,
refresh). Both models are loaded before anything is timed (the first ONNX load exports the
graphs, seconds), and the worker's start-up is not counted.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from engine.local_redis import LocalRedis
from evaluation.report import write_json
from ingest import prepare_indices, run_catalogue
from ingest.pipeline import text_for_embedding
from ingest.runner import is_large_run, task_size
from plugin.catalogue.reader import CatalogueRow, read_catalogue
from plugin.config import Config
from plugin.images.decode import decode_image
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import load_backend
from plugin.models.runtime import Runtime
from plugin.opensearch.client import connect
from sample_data.fashion_mnist import write_catalogue

LOOKALIKE = str(Path(sys.executable).parent / "lookalike")


def run(config: Config, images: int, report: Path, repeats: int = 3) -> dict[str, Any]:
    catalogue = write_catalogue(config.data_dir / "fashion-mnist", images)
    products = [row.product for row in read_catalogue(catalogue) if isinstance(row, CatalogueRow)]
    root = catalogue.parent / "png"
    paths = [p.images[0] for p in products]
    count = len(products)

    # ONNX first, its forward pass right before its pipeline: the ratio the benchmark is about
    # compares the two, and this machine's load drifts. PyTorch's threads stay out of its way.
    onnx = _loaded(config, "onnx", paths[:2])
    forward = _forward_pass(config, onnx, paths, repeats)
    texts = _text_pass(config, onnx, [text_for_embedding(p) for p in products], repeats)
    pipeline = _pipeline(config, catalogue, root, "onnx")
    torch = _loaded(config, "torch", paths[:2])
    # Once: at about a quarter of ONNX's pace, three passes would make the benchmark twice as long.
    torch_forward = _forward_pass(config, torch, paths, 1)
    torch_pipeline = _pipeline(config, catalogue, root, "torch")

    pipeline_rate = count / pipeline["seconds"]
    torch_rate = count / torch_pipeline["seconds"]
    result = {
        "benchmark": "ingest",
        "images": count,
        "model": onnx.spec.name,
        "runtime": "onnx",
        "batch_size": config.ingest.batch_size,
        "products_per_task": task_size(config),
        "refresh_relaxed": is_large_run(config, count),
        "pipeline_seconds": round(pipeline["seconds"], 2),
        "pipeline_images_per_s": round(pipeline_rate, 1),
        "forward_seconds_median": round(forward, 2),
        "forward_images_per_s": round(count / forward, 1),
        "pipeline_to_forward_ratio": round(forward / pipeline["seconds"], 3),
        "text_forward_seconds_median": round(texts, 2),
        "forward_with_text_images_per_s": round(count / (forward + texts), 1),
        "pipeline_to_forward_with_text_ratio": round((forward + texts) / pipeline["seconds"], 3),
        "baseline_torch_pipeline_seconds": round(torch_pipeline["seconds"], 2),
        "baseline_torch_images_per_s": round(torch_rate, 1),
        "baseline_torch_forward_seconds": round(torch_forward, 2),
        "baseline_torch_forward_images_per_s": round(count / torch_forward, 1),
        "baseline_torch_pipeline_to_forward_ratio": round(torch_forward / torch_pipeline["seconds"], 3),
        "pipeline_to_baseline_torch_ratio": round(pipeline_rate / torch_rate, 3),
        "forward_to_baseline_torch_forward_ratio": round(torch_forward / forward, 3),
        "summary": pipeline["summary"],
        "baseline_torch_summary": torch_pipeline["summary"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()},
        "command": f"lookalike bench ingest --images {images}",
    }
    write_json(report, result)
    return result


def _loaded(config: Config, runtime: Runtime, paths: list[str]) -> EmbeddingBackend:
    """The model on *runtime*, loaded (and for ONNX exported, the first time) and run once."""
    backend = load_backend(config.model, config.inference_threads, runtime, config.models_dir)
    backend.embed_and_label([decode_image(Path(p).read_bytes(), config.decode) for p in paths])
    backend.embed_texts(["a first text"])
    return backend


def _forward_pass(config: Config, backend: EmbeddingBackend, paths: list[str], repeats: int) -> float:
    """Median seconds for decode + the model's forward pass over all images, in worker-sized batches."""
    size = config.ingest.batch_size
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(paths), size):
            backend.embed_and_label([decode_image(Path(p).read_bytes(), config.decode) for p in paths[start : start + size]])
        timings.append(time.perf_counter() - started)
    return sorted(timings)[len(timings) // 2]


def _text_pass(config: Config, backend: EmbeddingBackend, texts: list[str], repeats: int) -> float:
    """Median seconds for the text model over the products' texts, in worker-sized batches."""
    size = config.ingest.batch_size
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(texts), size):
            backend.embed_texts(texts[start : start + size])
        timings.append(time.perf_counter() - started)
    return sorted(timings)[len(timings) // 2]


def _pipeline(config: Config, catalogue: Path, root: Path, runtime: Runtime) -> dict[str, Any]:
    alias = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    queue = alias  # a queue of its own: no other worker takes the benchmark's tasks
    # Predictions run after a run is done, on the same workers: they would be timed with the next run.
    bench_config = dataclasses.replace(
        config, index_alias=alias, runtime=runtime, fetch=dataclasses.replace(config.fetch, local_roots=(root,)),
        ingest=dataclasses.replace(config.ingest, predict_tags=False),
    )
    redis = LocalRedis(config.ingest.redis_home, config.ingest.redis_port)
    redis.start()
    env = dict(
        os.environ,
        LOOKALIKE_INDEX_ALIAS=alias,
        LOOKALIKE_IMAGE_ROOTS=str(root),
        OPENSEARCH_URL=config.opensearch_url,
        LOOKALIKE_RUNTIME=runtime,
    )
    log = config.data_dir / f"bench-worker-{runtime}.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [LOOKALIKE, "worker", "--loglevel=WARNING", f"--queue={queue}"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    client = connect(bench_config)
    try:
        wait_for_worker(log, worker, queue, config.ingest.broker_url)
        prepare_indices(client, bench_config)
        started = time.perf_counter()
        summary = run_catalogue(client, bench_config, catalogue, queue=queue)
        seconds = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        client.indices.delete(index=f"{alias}*", expand_wildcards="all", ignore_unavailable=True)
    return {"seconds": seconds, "summary": summary}


def wait_for_worker(log: Path, worker: subprocess.Popen[bytes], queue: str, broker_url: str, timeout: float = 180) -> None:
    from celery import Celery

    from ingest.celery_app import app

    assert isinstance(app, Celery)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the benchmark's worker exited: {log.read_text()[-2000:]}")
        with app.connection_for_write(broker_url) as connection:
            replies = app.control.inspect(timeout=1.0, connection=connection).active_queues() or {}
        if any(q.get("name") == queue for queues in replies.values() for q in queues):
            return
    raise RuntimeError(f"the benchmark's worker did not answer within {timeout:.0f} s; see {log}")
