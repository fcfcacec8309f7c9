"""Helpers of the ingest tests: catalogue rows, the two ways to run an ingest, and a busy cluster."""

from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from opensearchpy import OpenSearch

from ingest import runner
from plugin.config import Config
from tests.support.cli import LOOKALIKE


def row(pid: str, *images: Path | str, **fields: Any) -> dict[str, Any]:
    return {"id": pid, "title": fields.pop("title", f"Product {pid}"), "price": 10, "images": [str(p) for p in images], **fields}


def ingest_here(client: OpenSearch, config: Config, catalogue: Path) -> dict[str, int]:
    """Ingest in this process (``--eager``)."""
    return runner.run_catalogue(client, config, catalogue, eager=True)


def ingest_with_workers(env: dict[str, str], catalogue: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    """``lookalike ingest CATALOGUE``, handing the batches to the workers of *env*'s broker."""
    return subprocess.run([LOOKALIKE, "ingest", str(catalogue), "--timeout", str(timeout), *args], env=env, capture_output=True, text=True, timeout=timeout + 60)


def images_root(env: dict[str, str]) -> Path:
    return Path(env["LOOKALIKE_IMAGE_ROOTS"])


def summary_counts(stdout: str) -> dict[str, int]:
    """The counts of the ``Done: 3 indexed, 0 updated, ...`` line."""
    line = next(line for line in stdout.splitlines() if line.startswith("Done: "))
    return {name: int(count) for count, name in (part.split() for part in line[6:].rstrip(".").split(", "))}


def copies_of(client: OpenSearch, alias: str, product_id: str) -> int:
    client.indices.refresh(index=alias)
    return client.count(index=alias, body={"query": {"term": {"product_id": product_id}}})["count"]


class BusyEngine:
    """A real HTTP proxy in front of the node that answers 429, as an overloaded cluster does.

    Requests whose path contains *path_part* are refused, the first *times* of them (all of
    them when *times* is None); everything else reaches the node. :attr:`refused` holds the
    moments (``time.monotonic()``) of the refusals.
    """

    def __init__(self, upstream: str, path_part: str, times: int | None = None) -> None:
        target = urllib.parse.urlsplit(upstream)
        if target.scheme != "http":
            raise ValueError(f"the busy proxy forwards plain HTTP only, not {upstream}")
        self.path_part = path_part
        self.times = times
        self.refused: list[float] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(target.hostname or "127.0.0.1", target.port or 80))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> BusyEngine:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _refuses(self, path: str) -> bool:
        with self._lock:
            if self.path_part in path and (self.times is None or len(self.refused) < self.times):
                self.refused.append(time.monotonic())
                return True
            return False

    def _handler(self, host: str, port: int) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if engine._refuses(self.path):
                    reply = json.dumps({"error": {"type": "es_rejected_execution_exception", "reason": "busy"}, "status": 429}).encode()
                    self._send(429, [("Content-Type", "application/json")], reply)
                    return
                upstream = http.client.HTTPConnection(host, port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    kept = [(k, v) for k, v in response.getheaders() if k.lower() not in ("transfer-encoding", "connection", "content-length")]
                    self._send(response.status, kept, data)
                finally:
                    upstream.close()

            def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        return Handler


class HeldImages:
    """A real image server on 127.0.0.1 that holds each request for *hold* seconds before answering, as a slow CDN does.

    :meth:`wait_for_requests` lets a test act while a worker is inside a task (fetching);
    :attr:`requests` holds the path of every request, in order.
    """

    def __init__(self, image: bytes, hold: float) -> None:
        self.image = image
        self.hold = hold
        self.requests: list[str] = []
        self._seen = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    def wait_for_requests(self, count: int, timeout: float) -> None:
        """Return once *count* requests have arrived in all; fail after *timeout* seconds."""
        with self._seen:
            if not self._seen.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} image requests after {timeout} s, expected {count}")

    def __enter__(self) -> HeldImages:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        images = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                with images._seen:
                    images.requests.append(self.path)
                    images._seen.notify_all()
                time.sleep(images.hold)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(images.image)))
                    self.end_headers()
                    self.wfile.write(images.image)
                except OSError:
                    pass  # the worker that asked was killed meanwhile

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        return Handler
