"""A node of a three-node cluster is lost while a catalogue is ingested and shoppers search.

The scenario, shared by the fault test (short) and ``lookalike bench failover`` (longer):

1. A product index with 3 shards and 1 replica on a running local cluster of three nodes, a
   first part of a Fashion-MNIST catalogue ingested into it so that searches find something.
2. The rest of the catalogue sent to the broker and ingested by a real Celery worker, while
   client threads send photo and text queries through the real HTTP API without pause.
3. One node SIGKILLed mid-ingest (no clean shutdown: a crash or a lost machine), started
   again ``down_for`` seconds later.
4. It measures every query's answer (failed: anything but 200, or no answer), the p99 while
   the cluster was short of the node, whether every product of the catalogue is in the index
   exactly once, and how long the cluster took to turn green again after the node came back.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from opensearchpy import OpenSearch, helpers
from PIL import Image

from bench.ingest_throughput import LOOKALIKE, wait_for_worker
from engine.local_cluster import LocalCluster
from ingest import run_catalogue
from ingest.runner import prepare_indices
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.opensearch.client import connect
from sample_data.fashion_mnist import CLASSES, load_split, write_catalogue

#: The cluster member lost: not the first, whose URL a single-URL client would hold.
LOST_MEMBER = 1


@dataclasses.dataclass
class Answer:
    at: float
    kind: str
    status: int  # 0: no answer at all
    ms: float


@dataclasses.dataclass
class Scenario:
    """What to run: products in the catalogue (a tenth ingested before the fault), query threads, and timings."""

    products: int = 300
    query_threads: int = 2
    #: Seconds after the worker's ingest starts that the node is killed, and how long it stays down.
    kill_after: float = 5.0
    down_for: float = 10.0
    #: Queries go on this long after the cluster is green again.
    settle: float = 3.0
    ingest_timeout: float = 600.0


def measure(config: Config, scenario: Scenario, home: Path, http_port: int, transport_port: int) -> dict[str, Any]:
    """Start a fresh three-node cluster under *home* and a worker on the configured broker, run *scenario*, stop both."""
    shutil.rmtree(home, ignore_errors=True)
    engine = dataclasses.replace(config.engine, home=home, http_port=http_port, transport_port=transport_port, nodes=3)
    cluster = LocalCluster(engine)
    cluster.start(die_with_caller=True)
    alias, queue = f"failover-{uuid.uuid4().hex[:8]}", f"failover-{uuid.uuid4().hex[:8]}"
    config = dataclasses.replace(config, engine=engine, opensearch_url=cluster.opensearch_url, index_alias=alias)
    catalogue = write_catalogue(config.data_dir / f"failover-{scenario.products}", scenario.products)
    env = dict(
        os.environ,
        OPENSEARCH_URL=config.opensearch_url,
        LOOKALIKE_INDEX_ALIAS=alias,
        LOOKALIKE_INDEX_SHARDS="3",
        LOOKALIKE_INDEX_REPLICAS="1",
        LOOKALIKE_IMAGE_ROOTS=str(catalogue.parent / "png"),
        CELERY_BROKER_URL=config.ingest.broker_url,
        LOOKALIKE_INFERENCE_THREADS="1",
    )
    log = home / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [LOOKALIKE, "worker", "--loglevel=WARNING", f"--queue={queue}"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_worker(log, worker, queue, config.ingest.broker_url)
        return run(config, cluster, scenario, catalogue, queue)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        cluster.stop(timeout=30)


def run(config: Config, cluster: LocalCluster, scenario: Scenario, catalogue: Path, queue: str | None = None) -> dict[str, Any]:
    """Run *scenario* against *cluster* with *config* (its URLs, alias, broker), a worker consuming *queue*."""
    config = dataclasses.replace(config, index_shards=3, index_replicas=1)
    client = connect(config)
    first, rest = _split(catalogue, scenario.products // 10)
    config = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, local_roots=(catalogue.parent / "png",)))
    prepare_indices(client, config)
    run_catalogue(client, config, first, eager=True)
    client.cluster.health(wait_for_status="green", params={"timeout": "120s"}, request_timeout=130)

    server, base = serve_api(config)
    for _ in range(3):  # the server's first searches pay for its set-up; they are not measured
        _ask(base, "photo", _multipart(Image.new("RGB", (28, 28), (90, 90, 90))))
    answers: list[Answer] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_shop, args=(base, seed, answers, stop), daemon=True) for seed in range(scenario.query_threads)]
    ingest: dict[str, Any] = {}
    ingester = threading.Thread(target=_ingest, args=(client, config, rest, scenario.ingest_timeout, queue, ingest), daemon=True)
    try:
        for thread in threads:
            thread.start()
        started = time.monotonic()
        ingester.start()
        time.sleep(scenario.kill_after)
        lost = cluster.members[LOST_MEMBER]
        killed_at = time.monotonic()
        lost.kill()
        time.sleep(scenario.down_for)
        restarted_at = time.monotonic()
        with lost.lock():
            lost.wait_healthy(lost.launch(die_with_caller=True))
        rejoined_at = time.monotonic()
        cluster.wait_for_status("green", timeout=600)
        seconds_to_green = time.monotonic() - restarted_at
        green_at = time.monotonic()
        ingester.join(scenario.ingest_timeout)
        time.sleep(scenario.settle)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        stop_api(server)
    expected = [json.loads(line)["id"] for line in catalogue.read_text().splitlines() if line.strip()]
    client.indices.refresh(index=config.index_alias)
    found = [hit["_id"] for hit in helpers.scan(client, index=config.index_alias, query={"_source": False}, size=1000)]
    # A search counts as during the loss if any of it overlapped the time from the kill to green.
    overlapped = [killed_at <= a.at + a.ms / 1000 and a.at <= green_at for a in answers]
    during_loss = [a.ms for a, inside in zip(answers, overlapped) if inside]
    failed = [a for a in answers if a.status != 200]
    return {
        "queries": len(answers),
        "failed": len(failed),
        "failed_by_status": {str(s): sum(1 for a in failed if a.status == s) for s in sorted({a.status for a in failed})},
        "queries_during_loss": len(during_loss),
        "p99_ms_during_loss": round(float(np.percentile(during_loss, 99)), 1) if during_loss else None,
        "p50_ms_during_loss": round(float(np.median(during_loss)), 1) if during_loss else None,
        "p99_ms_otherwise": _p99([a.ms for a, inside in zip(answers, overlapped) if not inside]),
        "products_expected": len(expected),
        "products_found": len(set(found) & set(expected)),
        "documents_in_index": len(found),
        "duplicates": len(found) - len(set(found)),
        "seconds_to_green": round(seconds_to_green, 1),
        # Of which the node's own start until it answered in the cluster; the rest is its shard copies recovering.
        "seconds_to_rejoin": round(rejoined_at - restarted_at, 1),
        "node_killed_after_s": round(killed_at - started, 1),
        "node_down_s": round(restarted_at - killed_at, 1),
        "ingest": ingest,
        "ingest_ran_through_the_loss": ingest.get("seconds", 0) > killed_at - started,
        "shards": 3,
        "replicas": 1,
        "nodes": cluster.size,
    }


def _split(catalogue: Path, head: int) -> tuple[Path, Path]:
    lines = [line for line in catalogue.read_text().splitlines() if line.strip()]
    first, rest = catalogue.with_name("first.jsonl"), catalogue.with_name("rest.jsonl")
    first.write_text("\n".join(lines[:head]) + "\n")
    rest.write_text("\n".join(lines[head:]) + "\n")
    return first, rest


def _ingest(client: OpenSearch, config: Config, catalogue: Path, timeout: float, queue: str | None, out: dict[str, Any]) -> None:
    started = time.monotonic()
    try:
        out.update(run_catalogue(client, config, catalogue, timeout=timeout, queue=queue))
    except Exception as exc:  # noqa: BLE001 (reported in the result, and failed on by the test)
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["seconds"] = round(time.monotonic() - started, 1)


def serve_api(config: Config, backend: EmbeddingBackend | None = None) -> tuple[Any, str]:
    """The real API in a thread of this process, without per-client rate limits (one client asks everything); the server and its URL."""
    from waitress.server import create_server

    from api.app import create_app

    unlimited = dataclasses.replace(config.limits, search="", url_fetch="")
    server = create_server(create_app(dataclasses.replace(config, limits=unlimited), backend), host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def stop_api(server: Any) -> None:
    """Stop :func:`serve_api`'s server: its request threads first, since each wakes the event loop as it ends."""
    server.task_dispatcher.shutdown()
    server.close()


def _shop(base: str, seed: int, answers: list[Answer], stop: threading.Event) -> None:
    """Photo and text queries one after another, as a shopper would send them; each distinct, so no cache answers."""
    images, labels = load_split("t10k")
    rng = np.random.default_rng(seed)
    while not stop.is_set():
        i = int(rng.integers(len(images)))
        photo = Image.fromarray(images[i]).convert("RGB").rotate(float(rng.uniform(-10, 10)))
        answers.append(_ask(base, "photo", _multipart(photo)))
        if stop.is_set():
            break
        words = f"{CLASSES[labels[i]].lower()} {uuid.uuid4().hex[:6]}"
        answers.append(_ask(base, "text", (json.dumps({"text": words, "size": 10}).encode(), "application/json")))


def _multipart(photo: Image.Image) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="q.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
        + buffer.getvalue()
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="size"\r\n\r\n10\r\n--{boundary}--\r\n'.encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _ask(base: str, kind: str, payload: tuple[bytes, str]) -> Answer:
    body, content_type = payload
    request = urllib.request.Request(f"{base}/search", data=body, headers={"Content-Type": content_type})
    at = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (our own local server)
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return Answer(at=at, kind=kind, status=status, ms=(time.monotonic() - at) * 1000)


def _p99(values: list[float]) -> float | None:
    return round(float(np.percentile(values, 99)), 1) if values else None
