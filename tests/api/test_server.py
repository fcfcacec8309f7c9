"""Serving under attack (``api/server.py``): real sockets against the real app under the real server.

One client must not starve the others. Half-sent requests, admin pages polling their event
stream and image URLs that trickle a byte a second each cost their sender only: ``/health``
and a photo search from another address still answer within a second. The attacker and the
shopper use two loopback addresses, as two machines would reach the server.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import http.server
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask import request as flask_request
from flask.testing import FlaskClient
from werkzeug.middleware.proxy_fix import ProxyFix

from api.photos import MAX_PHOTO_BYTES
from api.server import GuardedServer, build_server, listening_socket
from plugin.config import Config
from tests.support.api import KEY
from tests.support.cli import free_port
from tests.support.images import degraded
from tests.support.sockets import closed_within

#: The hostile client's address and the shopper's: loopback answers on all of 127.0.0.0/8.
ATTACKER = "127.0.0.2"
SHOPPER = "127.0.0.3"
#: Request threads of the server under test, as on a two-core machine; half of them may fetch photos.
THREADS = 4
#: The test server's deadlines, short so the tests are.
READ_TIMEOUT = 2.0
FETCH_TIMEOUT = 2.0
#: What a shopper may wait under attack.
PROMPT = 1.0


@dataclasses.dataclass
class Answer:
    status: int
    seconds: float
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def served_config(app_config: Config) -> Config:
    serve = dataclasses.replace(app_config.serve, read_timeout=READ_TIMEOUT, idle_timeout=5.0, query_fetch_timeout=FETCH_TIMEOUT, query_fetches=0)
    fetch = dataclasses.replace(app_config.fetch, allow_private=True)  # the slow image server below runs on this machine
    limits = dataclasses.replace(app_config.limits, storage_url="memory://")
    return dataclasses.replace(app_config, serve=serve, fetch=fetch, limits=limits)


@pytest.fixture(scope="module")
def server(served_config: Config) -> Iterator[GuardedServer]:
    running = build_server(served_config, listening_socket("127.0.0.1", 0), threads=THREADS)
    thread = threading.Thread(target=running.run, name="test-server", daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def request(server: GuardedServer, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            source: str = SHOPPER, timeout: float = 30) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=timeout, source_address=(source, 0))
    started = time.monotonic()
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Answer(response.status, time.monotonic() - started, data, dict(response.getheaders()))
    finally:
        connection.close()


def health(server: GuardedServer) -> Answer:
    return request(server, "GET", "/health")


def photo_search(server: GuardedServer, photo: bytes) -> Answer:
    body = json.dumps({"image_base64": base64.b64encode(photo).decode(), "size": 3}).encode()
    return request(server, "POST", "/search", body, {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def photo(products: dict[str, dict[str, Any]]) -> bytes:
    return degraded(products["Tent"]["images"][0])


def assert_prompt(server: GuardedServer, photo: bytes) -> list[float]:
    """/health and a photo search from the shopper answer 200 within :data:`PROMPT`; their seconds."""
    answers = [health(server), photo_search(server, photo)]
    for answer in answers:
        assert answer.status == 200, answer.body
        assert answer.seconds < PROMPT
    assert answers[1].json()["hits"][0]["title"] == "Tent"
    return [answer.seconds for answer in answers]


def test_the_server_answers_with_its_own_limits(server: GuardedServer, served_config: Config, photo: bytes) -> None:
    assert server.adj.connection_limit == served_config.serve.connection_limit
    assert server.client_cap == served_config.serve.client_connections
    assert MAX_PHOTO_BYTES < server.adj.max_request_body_size < 2 * MAX_PHOTO_BYTES  # not waitress's 1 GB
    assert_prompt(server, photo)


def half_open(count: int, server: GuardedServer) -> list[socket.socket]:
    """*count* connections from the attacker, each with a request that stops halfway through its headers."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=5, source_address=(ATTACKER, 0))
        sock.sendall(b"POST /search HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/json\r\nContent-Len")
        sockets.append(sock)
    return sockets


def test_two_hundred_half_sent_requests_from_one_client_starve_no_one(server: GuardedServer, served_config: Config, photo: bytes) -> None:
    cap = served_config.serve.client_connections
    attack = half_open(200, server)
    try:
        prompt = assert_prompt(server, photo)  # while the attack holds every connection it may

        closed = sorted(closed_within(attack, READ_TIMEOUT + 3))
        assert len(closed) == 200  # every one, in the end
        assert closed[200 - cap - 1] < 1.0  # those over the per-client cap at once
        assert all(READ_TIMEOUT - 1.5 < seconds < READ_TIMEOUT + 2.5 for seconds in closed[200 - cap:])  # the rest at the deadline
        print(f"\nslowloris x200: /health {prompt[0] * 1000:.0f} ms, photo /search {prompt[1] * 1000:.0f} ms")
    finally:
        for sock in attack:
            sock.close()


def test_a_client_trickling_its_request_is_dropped_at_the_deadline(server: GuardedServer) -> None:
    # Waitress's own idle timeout never fires for a client that sends a byte now and then.
    with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5, source_address=(ATTACKER, 0)) as sock:
        started = time.monotonic()
        sent = 0
        try:
            for byte in b"GET /health HTTP/1.1\r\nHost: shop.example\r\nX-Padding: " + b"x" * 100:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        dropped_after = time.monotonic() - started

    assert sent < 40 and READ_TIMEOUT - 0.5 < dropped_after < READ_TIMEOUT + 2.5


def test_a_whole_request_sent_slowly_but_in_time_is_answered(server: GuardedServer) -> None:
    with socket.create_connection(("127.0.0.1", server.effective_port), timeout=10, source_address=(ATTACKER, 0)) as sock:
        for part in (b"GET /health HTTP/1.1\r\n", b"Host: shop.example\r\n", b"Connection: close\r\n\r\n"):
            sock.sendall(part)
            time.sleep(READ_TIMEOUT / 4)
        assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 200")


def test_admin_pages_watching_ingest_hold_no_request_thread(server: GuardedServer, photo: bytes) -> None:
    stop = threading.Event()
    responses: list[tuple[float, str]] = []

    def admin_page() -> None:
        """What an EventSource does: ask, read the short answer, wait its retry, ask again with the id it holds."""
        last_id = None
        while not stop.is_set():
            headers = {"X-API-Key": KEY, "Accept": "text/event-stream", **({"Last-Event-ID": last_id} if last_id else {})}
            answer = request(server, "GET", "/admin/events", headers=headers, source=ATTACKER)
            text = answer.body.decode()
            assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/event-stream")
            responses.append((answer.seconds, text))
            last_id = next((line[4:] for line in text.splitlines() if line.startswith("id: ")), last_id)
            stop.wait(int(text.split("retry: ", 1)[1].split("\n", 1)[0]) / 1000)

    with ThreadPoolExecutor(8) as pages:
        watching = [pages.submit(admin_page) for _ in range(8)]
        try:
            time.sleep(1.5)  # every page has asked at least once
            prompt = assert_prompt(server, photo)
            prompt += assert_prompt(server, photo)
        finally:
            stop.set()
        for page in watching:
            page.result()

    assert len(responses) >= 16
    assert all(seconds < PROMPT for seconds, _ in responses)  # each answer is short: no thread held
    assert all("event: ingest" in text for _, text in responses[:8])  # each page got the state once,
    assert not any("event: ingest" in text for _, text in responses[8:])  # and not again while it did not change
    print(f"\n8 admin event streams: /health {max(prompt[0::2]) * 1000:.0f} ms, photo /search {max(prompt[1::2]) * 1000:.0f} ms (worst of 2)")


class TricklingImages(http.server.BaseHTTPRequestHandler):
    """An image server that sends its answer, headers included, one byte a second."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n" + b"\x89PNG" + b"\0" * 100:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass  # the fetcher hung up: as it should

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trickling_url() -> Iterator[str]:
    images = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TricklingImages)
    images.daemon_threads = True
    thread = threading.Thread(target=images.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{images.server_address[1]}/photo.png"
    images.shutdown()
    images.server_close()


def in_background(call: Callable[[], Answer], every: float, until: threading.Event) -> list[Answer]:
    answers: list[Answer] = []

    def loop() -> None:
        while not until.is_set():
            answers.append(call())
            until.wait(every)

    threading.Thread(target=loop, daemon=True).start()
    return answers


def test_eight_searches_by_a_trickling_image_url_cost_only_themselves(server: GuardedServer, trickling_url: str) -> None:
    body = json.dumps({"image_url": trickling_url}).encode()
    done = threading.Event()
    healths = in_background(lambda: health(server), 0.2, done)
    try:
        with ThreadPoolExecutor(8) as shoppers:
            answers = list(shoppers.map(lambda _: request(server, "POST", "/search", body, {"Content-Type": "application/json"}, source=ATTACKER), range(8)))
    finally:
        done.set()

    slots = THREADS // 2
    assert Counter(answer.status for answer in answers) == {422: slots, 429: 8 - slots}
    for answer in answers:
        if answer.status == 429:  # the fetch slots were taken: refused at once, with when to come back
            assert answer.seconds < PROMPT and int(answer.headers["Retry-After"]) > 0
            assert answer.json()["error"]["code"] == "too_many_fetches"
        else:  # cut off at the query's deadline, naming the field
            assert FETCH_TIMEOUT - 0.2 < answer.seconds < FETCH_TIMEOUT + 1.5
            assert answer.json()["error"] == {"code": "fetch_timeout", "field": "image_url", "message": answer.json()["error"]["message"]}
    assert len(healths) >= 5 and all(h.status == 200 and h.seconds < PROMPT for h in healths)
    print(
        f"\n8 trickling image_url searches: 429 in <= {max(a.seconds for a in answers if a.status == 429) * 1000:.0f} ms, "
        f"422 after {min(a.seconds for a in answers if a.status == 422):.2f}-{max(a.seconds for a in answers if a.status == 422):.2f} s, "
        f"/health <= {max(h.seconds for h in healths) * 1000:.0f} ms ({len(healths)} checks)"
    )


def test_an_image_url_error_does_not_reveal_the_address_its_host_resolves_to(server: GuardedServer, api: FlaskClient) -> None:
    # By default private addresses are refused: the answer says so without saying which address.
    refused = api.post("/search", json={"image_url": "http://localhost:9/photo.png"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "unsafe_url"
    # The served app allows them (for the slow image server); nothing listens there, so the connection fails.
    failed = request(server, "POST", "/search", json.dumps({"image_url": f"http://localhost:{free_port()}/photo.png"}).encode(),
                     {"Content-Type": "application/json"})
    assert failed.status == 422 and failed.json()["error"]["field"] == "image_url"
    for body in (refused.get_data(), failed.body):
        assert b"localhost" in body
        assert b"127.0.0.1" not in body and b"::1" not in body


@pytest.mark.parametrize(("proxies", "seen"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_forwarded_addresses_reach_the_app_only_behind_trusted_proxies(served_config: Config, proxies: int, seen: str) -> None:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]  # as api/limits.py does behind proxies
    app.get("/who")(lambda: flask_request.remote_addr or "")
    settings = dataclasses.replace(served_config.serve, trusted_proxies=proxies)
    running = GuardedServer(app, listening_socket("127.0.0.1", 0), settings, threads=1)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        answer = request(running, "GET", "/who", headers={"X-Forwarded-For": "203.0.113.9"}, source="127.0.0.1")
    finally:
        running.stop()
        thread.join(timeout=10)

    assert answer.body.decode() == seen
    # Behind a proxy every connection comes from it: a per-client cap would cap every shopper together.
    assert running.client_cap == (settings.connection_limit if proxies else settings.client_connections)
