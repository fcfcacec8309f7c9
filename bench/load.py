"""``lookalike bench load``: throughput and tail latency of ``lookalike serve`` under concurrent shoppers.

The benchmark starts the real server (``lookalike serve``, one or more processes on free ports)
against the search benchmark's Fashion-MNIST catalogue (alias ``bench-search-<products>``,
ingested once and kept), then drives it with closed-loop clients: at each concurrency level,
that many threads each send a query, wait for the answer and send the next, through a
connection pool (keep-alive, as a shop's backend or a load balancer would). Per level:
throughput, p50/p95/p99 latency, errors, and the CPU time the server, the OpenSearch node and
the clients used per query.

The queries are a fixed, seeded mix of photo uploads, texts, and photos with words (one
third each, interleaved). Every request is distinct (its serial number is written into one
corner pixel of the photo and appended to the words), so the API's query-vector cache
never answers for the model and each query costs what a new shopper's query costs.

The CPU bound is what the machine's cores could serve if nothing but the work of a query used
them: cores ÷ CPU-seconds per query, measured at concurrency 1. The server and the OpenSearch
node share the cores when the node runs on this machine, so both count; the load generator's
own CPU is reported beside it but not counted (a shop's clients run elsewhere).

The servers run with their rate limits on (``api/limits.py``), a low per-client search limit
included, behind one trusted proxy: the levels' requests come from many shoppers' addresses
in turn (``X-Forwarded-For``), each far below its limit, so every request pays for the limiter
and none is refused. A last, short phase sends one client's requests as fast as a few
connections allow, past its limit, and counts what it is answered: 429s, never 5xx.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import urllib3
from limits.storage import storage_from_string
from opensearchpy import OpenSearch
from PIL import Image

from api.limits import storage_url
from api.server import request_threads
from bench.search_latency import ingest_once, png, words
from engine.local_node import LocalNode
from engine.processes import die_with_parent
from evaluation.report import write_json
from plugin.config import Config
from plugin.errors import LookalikeError
from plugin.opensearch.client import connect
from sample_data.fashion_mnist import CLASSES, load_split, write_catalogue

LOOKALIKE = str(Path(sys.executable).parent / "lookalike")
KINDS = ("photo", "text", "hybrid")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: Seconds without queries over which the idle CPU use of the server, the node and the machine is measured.
IDLE_SECONDS = 3.0
#: Cores busy with something other than the server, the node and the clients above which a level is flagged.
NOISE_CORES = 0.25
#: Variables that size the thread pools of the libraries under the model and numpy; the server inherits them.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: The concurrency at which the goals are checked: throughput against the CPU bound, p99 against p50.
GOAL_CONCURRENCY = 8
#: Addresses the levels' requests come from in turn, as one trusted proxy forwards them: at the
#: levels' rates each sends a query every few minutes, as shoppers do, far below any per-client limit.
SHOPPERS = 4096
#: The per-client search limit the servers run with: low, so that one client passes it in a second.
SEARCH_LIMIT = "30/10 seconds"
#: The throttle phase: one client's address, its connections, and how long it sends.
THROTTLED_CLIENT = "198.51.100.77"
THROTTLE_CONCURRENCY = 4
THROTTLE_SECONDS = 3.0


@dataclasses.dataclass(frozen=True)
class Layout:
    """How the API is run: ``processes`` × ``lookalike serve --threads`` with inference threads each."""

    processes: int = 1
    #: ``lookalike serve --threads``: its own default, two per core.
    threads: int = dataclasses.field(default_factory=request_threads)
    #: ``LOOKALIKE_INFERENCE_THREADS`` (and its older name) for the server; None keeps the environment's.
    inference_threads: int | None = None


def run(
    config: Config,
    products: int,
    levels: Sequence[int],
    seconds: float,
    layout: Layout,
    report: Path,
    warmup: float = 10.0,
    ramp: float = 2.0,
    seed: int = 0,
    pool: int = 200,
) -> dict[str, Any]:
    if not Path("/proc/self/stat").exists():
        raise LookalikeError("lookalike bench load reads CPU time from /proc, which this system does not have.")
    levels = sorted(set(levels) | {1})  # concurrency 1 gives the CPU bound
    catalogue = write_catalogue(config.data_dir / "fashion-mnist", products)
    alias = f"bench-search-{products}"  # the search benchmark's catalogue: ingested once for both
    bench_config = dataclasses.replace(
        config, index_alias=alias, fetch=dataclasses.replace(config.fetch, local_roots=(catalogue.parent / "png",))
    )
    client = connect(bench_config)
    ingest_once(client, bench_config, catalogue, products)
    catalogue_size = client.count(index=alias)["count"]

    queries = QueryMix(seed, pool)
    node = NodeCpu(config, client)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with Servers(bench_config, layout, max(levels)) as servers:
        meter = Meter(servers.pids, node)
        warm = _level(servers, queries, meter, max(levels), ramp=0.0, seconds=warmup)  # not reported as a level
        idle_before = meter.idle_cores(IDLE_SECONDS)
        figures = {str(c): _level(servers, queries, meter, c, ramp=ramp, seconds=seconds) for c in levels}
        idle_after = meter.idle_cores(IDLE_SECONDS)
        idle = {name: min(value, idle_after[name]) for name, value in idle_before.items()}  # the quieter is the background
        for c in levels:
            _net_of_idle(figures[str(c)], idle)
        throttle = _throttle(servers, queries, THROTTLE_CONCURRENCY, THROTTLE_SECONDS)  # after the measurements: it disturbs none
        health = servers.health
    client.close()

    one = figures["1"]
    per_query = (one["server_cpu_ms_per_query"] or 0.0) + ((one["node_cpu_ms_per_query"] or 0.0) if node.on_this_machine else 0.0)
    bound = cores * 1000 / per_query if per_query else None
    for level in figures.values():
        level["qps_to_cpu_bound"] = round(level["qps"] / bound, 3) if bound else None
        if bound and "noisy" in level:  # against what other work on this machine left of the bound
            left = max(cores - level["busy_cores"]["others"], 0.1) / cores
            level["qps_to_cpu_bound_left_by_others"] = round(level["qps"] / (bound * left), 3)
    goal = figures.get(str(GOAL_CONCURRENCY))
    inference = layout.inference_threads if layout.inference_threads is not None else config.inference_threads
    result = {
        "benchmark": "load",
        "levels": figures,
        "cpu_bound_qps": round(bound, 2) if bound else None,
        "cpu_bound": {
            "basis": (
                "cores / (server + OpenSearch node CPU-seconds per query at concurrency 1): both run on these cores"
                if node.on_this_machine
                else "cores / server CPU-seconds per query at concurrency 1: the OpenSearch node runs elsewhere"
            ),
            "cores": cores,
            "server_cpu_ms_per_query": one["server_cpu_ms_per_query"],
            "node_cpu_ms_per_query": one["node_cpu_ms_per_query"],
            "node_on_this_machine": node.on_this_machine,
            "node_cpu_source": node.source,
            "client_cpu_ms_per_query": one["client_cpu_ms_per_query"],
            "server_only_qps": round(cores * 1000 / one["server_cpu_ms_per_query"], 2) if one["server_cpu_ms_per_query"] else None,
            "idle_cores": {name: round(value, 3) for name, value in idle.items()},
            "notes": [
                "per-query CPU is net of each process's idle use: the lower of two "
                f"{IDLE_SECONDS:g} s measurements with no query in flight, before and after the levels "
                "(on a shared machine the node may serve others; raw figures are in each level's raw_cpu_ms_per_query)",
                "the load generator's own CPU is not counted in the bound; it shares these cores here, a shop's clients do not",
                "thread pools that spin between queries (BLAS or ONNX Runtime pools wider than one thread) raise the CPU cost "
                "at concurrency 1 and so lower the bound: compare cpu_bound_qps across layouts, not only the ratio",
            ],
        },
        "goals": _goals(goal) if goal else None,
        "limits": _limits(config, layout),
        "throttle": throttle,
        "limit_goals": {
            "zero_errors_with_limits_on": warm["errors"] == 0 and all(level["errors"] == 0 for level in figures.values()),
            "a_client_over_its_limit_gets_429": throttle["throttled"] > 0,
            "never_5xx": throttle["server_errors"] == 0,
        },
        "noisy_levels": [level for level, figures_ in figures.items() if "noisy" in figures_],
        "server": {
            "processes": layout.processes,
            "waitress_threads": layout.threads,
            "inference_threads": inference,
            "inference_threads_effective": inference or 1,  # lookalike serve runs a request's model on one thread
            "runtime": config.runtime,
            "model": health.get("model"),
            "index": health.get("index"),
            "command": f"lookalike serve --threads {layout.threads}"
            + (f" (× {layout.processes} processes on their own ports, requests spread round-robin)" if layout.processes > 1 else ""),
            "environment": {key: os.environ[key] for key in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", *THREAD_VARIABLES) if key in os.environ},
        },
        "query_mix": {
            "kinds": {kind: round(1 / len(KINDS), 3) for kind in KINDS},
            "base_queries": pool,
            "seed": seed,
            "photos": "Fashion-MNIST test images (28 × 28 PNG uploads), hybrid ones mirrored, with a serial number in one corner pixel",
            "texts": "a class name and two words, with a serial number",
            "distinct": "every request; the query-vector cache never answers",
            "size": 10,
        },
        "catalogue_size": catalogue_size,
        "alias": alias,
        "seconds_per_level": seconds,
        "ramp_seconds": ramp,
        "warmup": {"seconds": warmup, "concurrency": max(levels), "requests": warm["requests"], "errors": warm["errors"]},
        "machine": {"cpus": os.cpu_count(), "usable_cores": cores},
        "command": _command(products, levels, seconds, warmup, layout),
    }
    write_json(report, result)
    return result


def _goals(level: dict[str, Any]) -> dict[str, Any]:
    return {
        "concurrency": GOAL_CONCURRENCY,
        "zero_errors": level["errors"] == 0,
        "qps_to_cpu_bound": level["qps_to_cpu_bound"],
        "qps_at_least_0.8_of_cpu_bound": level["qps_to_cpu_bound"] is not None and level["qps_to_cpu_bound"] >= 0.8,
        "p99_to_p50": level["p99_to_p50"],
        "p99_at_most_1.5_p50": level["p99_to_p50"] is not None and level["p99_to_p50"] <= 1.5,
    }


def _command(products: int, levels: Sequence[int], seconds: float, warmup: float, layout: Layout) -> str:
    parts = [f"{key}={os.environ[key]}" for key in THREAD_VARIABLES if key in os.environ]
    parts.append(f"lookalike bench load --products {products} --levels {','.join(map(str, levels))} --seconds {seconds:g} --warmup {warmup:g}")
    parts.append(f"--threads {layout.threads}")
    if layout.processes != 1:
        parts.append(f"--processes {layout.processes}")
    if layout.inference_threads is not None:
        parts.append(f"--inference-threads {layout.inference_threads}")
    return " ".join(parts)


class QueryMix:
    """An endless, fixed sequence of distinct queries: photo, text, photo with words, in turn."""

    def __init__(self, seed: int, pool: int) -> None:
        images, _ = load_split("t10k")
        picks = np.random.default_rng(seed).choice(len(images), size=pool, replace=False)
        self.photos = [np.stack([images[i]] * 3, axis=-1) for i in picks]  # in colour, as uploads are
        self.texts = [f"{CLASSES[i % 10].lower()} {word}" for i, word in enumerate(words(pool))]
        self._serial = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> tuple[int, str, bytes, dict[str, str]]:
        """The next query as (serial, kind, body, headers), ready to send."""
        with self._lock:
            serial = next(self._serial)
        kind = KINDS[serial % len(KINDS)]
        base = (serial // len(KINDS)) % len(self.photos)
        text = f"{self.texts[base]} {serial}"
        if kind == "text":
            return serial, kind, json.dumps({"text": text, "size": 10}).encode(), {"Content-Type": "application/json"}
        pixels = self.photos[base][:, ::-1] if kind == "hybrid" else self.photos[base]
        pixels = pixels.copy()
        pixels[0, 0] = (serial & 0xFF, (serial >> 8) & 0xFF, (serial >> 16) & 0xFF)  # a new photo for the cache
        fields: dict[str, Any] = {"image": ("q.png", png(Image.fromarray(pixels)), "image/png"), "size": "10"}
        if kind == "hybrid":
            fields["text"] = text
        body, content_type = urllib3.encode_multipart_formdata(fields)
        return serial, kind, body, {"Content-Type": content_type}


class Servers:
    """``lookalike serve`` processes on free ports, each with a connection pool; stopped on exit."""

    def __init__(self, config: Config, layout: Layout, connections: int, start_timeout: float = 300.0) -> None:
        self.config = config
        self.layout = layout
        self.connections = connections
        self.start_timeout = start_timeout
        self.processes: list[subprocess.Popen[bytes]] = []
        self.pools: list[urllib3.HTTPConnectionPool] = []
        self.logs: list[Path] = []
        self.health: dict[str, Any] = {}

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def __enter__(self) -> Servers:
        env = dict(
            os.environ, OPENSEARCH_URL=self.config.opensearch_url, LOOKALIKE_INDEX_ALIAS=self.config.index_alias,
            LOOKALIKE_RATE_LIMIT_SEARCH=SEARCH_LIMIT, LOOKALIKE_TRUSTED_PROXIES="1",  # the shoppers' addresses, forwarded
        )
        if self.layout.inference_threads is not None:
            threads = str(self.layout.inference_threads)
            env.update(LOOKALIKE_INFERENCE_THREADS=threads, LOOKALIKE_TORCH_THREADS=threads)
        try:
            for i in range(self.layout.processes):
                port = _free_port()
                log = self.config.data_dir / f"bench-load-serve-{port}.log"  # kept only if the run fails
                log.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "wb") as out:
                    command = [LOOKALIKE, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(self.layout.threads)]
                    self.processes.append(
                        subprocess.Popen(
                            command, env=env, stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent(os.getpid()) if sys.platform == "linux" else None,
                        )
                    )
                self.logs.append(log)
                self.pools.append(
                    urllib3.HTTPConnectionPool(
                        "127.0.0.1", port, maxsize=self.connections, block=True,
                        timeout=urllib3.Timeout(connect=10, read=120), retries=False,
                    )
                )
            for i in range(self.layout.processes):
                self.health = self._wait_ready(i)
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        return self

    def _wait_ready(self, i: int) -> dict[str, Any]:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.processes[i].poll() is not None:
                raise LookalikeError(
                    f"lookalike serve exited with status {self.processes[i].returncode} before answering; "
                    f"the end of its log ({self.logs[i]}):\n{self.logs[i].read_text(errors='replace')[-2000:]}"
                )
            try:
                response = self.pools[i].request("GET", "/health", timeout=urllib3.Timeout(connect=1, read=30))
            except urllib3.exceptions.HTTPError:
                time.sleep(0.5)
                continue
            health = json.loads(response.data)
            if response.status != 200 or health.get("status") != "ok":
                raise LookalikeError(f"lookalike serve is not ready to search {self.config.index_alias}: {response.status} {health}")
            return health
        raise LookalikeError(f"lookalike serve did not answer within {self.start_timeout:.0f} s; see {self.logs[i]}")

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        for pool in self.pools:
            pool.close()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if kind is None and self.health:
            for log in self.logs:
                log.unlink(missing_ok=True)

    def send(self, serial: int, body: bytes, headers: dict[str, str]) -> str | None:
        """POST one search from the next shopper to the next server in turn; None when it answered 200, else what went wrong."""
        try:
            response = self.post(serial, body, headers, _shopper(serial))
        except urllib3.exceptions.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status != 200:
            return f"{response.status}: {response.data[:200].decode(errors='replace')}"
        return None

    def post(self, serial: int, body: bytes, headers: dict[str, str], client: str) -> urllib3.BaseHTTPResponse:
        """POST one search from the address *client* (as the trusted proxy forwards it) to the next server in turn."""
        return self.pools[serial % len(self.pools)].urlopen("POST", "/search", body=body, headers={**headers, "X-Forwarded-For": client})


class NodeCpu:
    """The OpenSearch node's CPU time: from /proc for the local node, else from the nodes stats API."""

    def __init__(self, config: Config, client: OpenSearch) -> None:
        self.client = client
        local = LocalNode(config.engine)
        self.pid = local.running_pid() if config.opensearch_urls == (local.url,) else None
        self.source = f"/proc/{self.pid}/stat (the local node)" if self.pid else "nodes stats API, process.cpu.total_in_millis"
        hosts = {urlsplit(url).hostname or "" for url in config.opensearch_urls}
        self.on_this_machine = self.pid is not None or hosts <= {"127.0.0.1", "localhost", "::1"}

    def seconds(self) -> float:
        if self.pid:
            return _process_cpu_seconds(self.pid)
        stats = self.client.nodes.stats(metric="process")
        return sum(node["process"]["cpu"]["total_in_millis"] for node in stats["nodes"].values()) / 1000


@dataclasses.dataclass(frozen=True)
class Reading:
    at: float
    server: float
    node: float
    client: float
    machine_busy: float


class Meter:
    """CPU seconds used so far by the servers, the node, this process (the clients) and the whole machine."""

    def __init__(self, server_pids: list[int], node: NodeCpu) -> None:
        self.server_pids = server_pids
        self.node = node

    def idle_cores(self, seconds: float) -> dict[str, float]:
        """Cores the servers, the node and the machine use with no query in flight (a shared node may serve others)."""
        before = self.read()
        time.sleep(seconds)
        after = self.read()
        elapsed = after.at - before.at
        return {
            "server": (after.server - before.server) / elapsed,
            "node": (after.node - before.node) / elapsed,
            "machine": (after.machine_busy - before.machine_busy) / elapsed,
        }

    def read(self) -> Reading:
        return Reading(
            at=time.monotonic(),
            server=sum(_process_cpu_seconds(pid) for pid in self.server_pids),
            node=self.node.seconds(),
            client=time.process_time(),
            machine_busy=_machine_busy_seconds(),
        )


def _level(servers: Servers, queries: QueryMix, meter: Meter, concurrency: int, ramp: float, seconds: float) -> dict[str, Any]:
    """*concurrency* closed-loop clients for *ramp* seconds (not counted), then *seconds* (counted).

    A request counts when it finishes inside the counted window; CPU time is read at the
    window's two ends. Errors count over the whole level, ramp and last answers included.
    """
    records: list[list[tuple[float, float, str, str | None]]] = [[] for _ in range(concurrency)]
    begun = time.monotonic()
    start, end = begun + ramp, begun + ramp + seconds

    def client(out: list[tuple[float, float, str, str | None]]) -> None:
        while True:
            serial, kind, body, headers = queries.next()  # built before the clock starts: client work
            sent = time.monotonic()
            if sent >= end:
                return
            error = servers.send(serial, body, headers)
            out.append((sent, time.monotonic(), kind, error))

    threads = [threading.Thread(target=client, args=(out,), daemon=True) for out in records]
    for thread in threads:
        thread.start()
    _sleep_until(start)
    before = meter.read()
    _sleep_until(end)
    after = meter.read()
    for thread in threads:
        thread.join()

    elapsed = after.at - before.at
    busy = {
        "server": round((after.server - before.server) / elapsed, 2),
        "node": round((after.node - before.node) / elapsed, 2),
        "clients": round((after.client - before.client) / elapsed, 2),
        "machine": round((after.machine_busy - before.machine_busy) / elapsed, 2),
    }
    busy["others"] = round(max(0.0, busy["machine"] - busy["server"] - busy["node"] - busy["clients"]), 2)
    done = [r for out in records for r in out]
    counted = [r for r in done if start <= r[1] < end]
    ok = [(r[1] - r[0]) * 1000 for r in counted if r[3] is None]
    errors = [r[3] for r in done if r[3] is not None]
    p50, p95, p99 = _percentiles(ok, (50, 95, 99))
    by_kind = {kind: _percentiles([(r[1] - r[0]) * 1000 for r in counted if r[3] is None and r[2] == kind], (50, 99)) for kind in KINDS}
    figures: dict[str, Any] = {
        "qps": round(len(ok) / elapsed, 2),
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "errors": len(errors),
        "requests": len(done),
        "counted": len(counted),
        "p99_to_p50": round(p99 / p50, 3) if p50 and p99 else None,
        # The mix's own spread: a photo with words runs more signals than a photo alone.
        "p50_ms_by_kind": {kind: by_kind[kind][0] for kind in KINDS},
        "p99_ms_by_kind": {kind: by_kind[kind][1] for kind in KINDS},
        "server_cpu_ms_per_query": None,  # net of the idle background: _net_of_idle
        "node_cpu_ms_per_query": None,
        "client_cpu_ms_per_query": _per(after.client - before.client, len(counted)),
        "busy_cores": busy,
        "raw_cpu_ms_per_query": {
            "server": _per(after.server - before.server, len(counted)),
            "node": _per(after.node - before.node, len(counted)),
        },
        "_window": (elapsed, len(counted), {"server": after.server - before.server, "node": after.node - before.node}),
    }
    if errors:
        figures["first_errors"] = sorted(set(errors))[:5]
    return figures


def _throttle(servers: Servers, queries: QueryMix, concurrency: int, seconds: float) -> dict[str, Any]:
    """One client over its search limit: *concurrency* connections from one address for *seconds*, and what they were answered."""
    statuses: Counter[str] = Counter()
    retry_after: list[int] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < end:
            serial, _, body, headers = queries.next()
            try:
                response = servers.post(serial, body, headers, THROTTLED_CLIENT)
                status, wait = str(response.status), response.headers.get("Retry-After")
            except urllib3.exceptions.HTTPError as exc:
                status, wait = type(exc).__name__, None
            with lock:
                statuses[status] += 1
                if status == "429" and wait is not None:
                    retry_after.append(int(wait))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "client": THROTTLED_CLIENT,
        "limit": SEARCH_LIMIT,
        "concurrency": concurrency,
        "seconds": seconds,
        "requests": sum(statuses.values()),
        "ok": statuses["200"],
        "throttled": statuses["429"],
        "throttled_with_retry_after": len(retry_after),
        "retry_after_s": [min(retry_after), max(retry_after)] if retry_after else None,
        "server_errors": sum(n for status, n in statuses.items() if status.startswith("5")),
        "statuses": dict(sorted(statuses.items())),
    }


def _limits(config: Config, layout: Layout) -> dict[str, Any]:
    """The rate limits the servers ran with, and where they counted."""
    url = storage_url(config)
    try:
        reachable = storage_from_string(url, socket_connect_timeout=1).check() if url.startswith("redis") else True
    except Exception:  # any store's client error: what matters is that the servers could not use it either
        reachable = False
    parts = urlsplit(url)
    shown = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))  # never a password in a report
    return {
        "search": SEARCH_LIMIT,
        "url_fetch": config.limits.url_fetch or "off",
        "admin_failures": config.limits.admin_failures or "off",
        "storage": shown,
        "storage_reachable": reachable,
        "counted": (
            "in Redis, by all server processes together" if reachable
            else f"in each server process's memory (the store is unreachable){'' if layout.processes == 1 else ': limits apply per process'}"
        ),
        "trusted_proxies": 1,
        "shoppers": SHOPPERS,
        "note": f"the levels' requests come from {SHOPPERS} addresses in turn (X-Forwarded-For), each far below the search limit",
    }


def _shopper(serial: int) -> str:
    """The address of the shopper who sends query *serial*: one of :data:`SHOPPERS`, in turn."""
    n = serial % SHOPPERS
    return f"10.77.{n >> 8}.{n & 255}"


def _net_of_idle(figures: dict[str, Any], idle: dict[str, float]) -> None:
    """Per-query CPU of the server and the node less what each uses with no query in flight; flags a noisy level."""
    elapsed, counted, used = figures.pop("_window")
    busy = figures["busy_cores"]
    for name in ("server", "node"):
        figures[f"{name}_cpu_ms_per_query"] = _per(used[name] - idle[name] * elapsed, counted)
    reasons = []
    if busy["others"] > NOISE_CORES:
        reasons.append(f"{busy['others']} cores were busy with other work on this machine")
    if idle["node"] > NOISE_CORES / 5:
        reasons.append(f"the OpenSearch node used {idle['node']:.2f} cores with no query of this benchmark in flight (others use it)")
    if reasons:
        figures["noisy"] = "; ".join(reasons)


def _percentiles(values: list[float], quantiles: tuple[int, ...]) -> list[float | None]:
    if not values:
        return [None] * len(quantiles)
    return [round(float(np.percentile(values, q)), 1) for q in quantiles]


def _per(cpu_seconds: float, queries: int) -> float | None:
    return round(max(cpu_seconds, 0.0) * 1000 / queries, 2) if queries else None


def _sleep_until(moment: float) -> None:
    while (left := moment - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of *pid*, all its threads (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _machine_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idling or waiting for I/O since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICKS


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parse_levels(text: str) -> list[int]:
    """``"1,2,4,8,16"`` as concurrency levels; raises ValueError on anything else."""
    levels = sorted({int(part) for part in text.replace(" ", "").split(",") if part})
    if not levels or levels[0] < 1 or levels[-1] > 64:
        raise ValueError("levels are concurrencies from 1 to 64, comma-separated")
    return levels
