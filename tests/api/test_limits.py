"""Per-client rate limits (``api/limits.py``): wrong admin keys locked out, searches and photo fetches by URL limited.

Each runs twice: with the counters in a real Redis, and with the broker's Redis down (this
package's app configuration points at a port nobody listens on), where each process counts
in memory and the API keeps answering.
"""

from __future__ import annotations

import dataclasses
import http.server
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.app import create_app
from engine.local_redis import LocalRedis
from plugin.config import Config, LimitsConfig
from plugin.errors import ConfigError
from tests.support.api import KEY, log_in, page_token
from tests.support.cli import free_port
from tests.support.images import jpeg_bytes

#: A second client, as a trusted reverse proxy names it.
ELSEWHERE = {"X-Forwarded-For": "203.0.113.9"}


@pytest.fixture(params=["redis", "redis down"])
def storage(request: pytest.FixtureRequest) -> str | None:
    """Where the counters live: the real Redis, or None for the broker's (down in these tests)."""
    if request.param == "redis":
        redis: LocalRedis = request.getfixturevalue("redis_server")
        return redis.url
    return None


def limited_app(app_config: Config, storage: str | None, trusted_proxies: int = 1, **limits: str) -> Flask:
    """The test app with *limits* (the others as configured), counting in *storage*, behind *trusted_proxies* proxies."""
    return create_app(
        dataclasses.replace(
            app_config,
            limits=dataclasses.replace(app_config.limits, storage_url=storage, **limits),
            serve=dataclasses.replace(app_config.serve, trusted_proxies=trusted_proxies),
        ),
        warm=False,
    )


_addresses = itertools.count(1)


def client_of(app: Flask) -> FlaskClient:
    """A test client at a peer address no other client of the run has: one Redis holds every test's counters."""
    n = next(_addresses)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    return client


def assert_throttled(response: TestResponse) -> int:
    """*response* is a 429 with the API's JSON error body and a Retry-After in seconds; returns it."""
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "too_many_requests"
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1
    return seconds


def test_two_hundred_wrong_keys_lock_the_client_out_the_right_key_included(app_config: Config, storage: str | None) -> None:
    api = client_of(limited_app(app_config, storage, admin_failures="5/minute"))
    form = page_token(api.get("/admin/login"))

    statuses: Counter[int] = Counter()
    for attempt in range(200):  # half by header, half by the login form
        if attempt % 2:
            response = api.get("/admin/api/index", headers={"X-API-Key": f"guess-{attempt}"})
        else:
            response = api.post("/admin/login", data={"key": f"guess-{attempt}", "csrf_token": form})
        statuses[response.status_code] += 1
        if response.status_code == 429:
            assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert statuses == {401: 5, 429: 195}

    assert_throttled(api.get("/admin/api/index", headers={"X-API-Key": KEY}))
    locked = api.post("/admin/login", data={"key": KEY, "csrf_token": form})
    assert locked.status_code == 429 and "try again in" in locked.get_data(as_text=True)  # the form says so
    assert int(locked.headers["Retry-After"]) >= 1
    # Another address is not locked out by this one's guesses.
    assert api.get("/admin/api/index", headers={"X-API-Key": KEY, **ELSEWHERE}).status_code == 200


def test_wrong_keys_at_metrics_count_against_the_same_lockout(app_config: Config, storage: str | None) -> None:
    api = client_of(limited_app(app_config, storage, admin_failures="5/minute"))

    statuses = Counter(api.get("/metrics", headers={"Authorization": f"Bearer guess-{n}"}).status_code for n in range(8))
    assert statuses == {401: 5, 429: 3}
    # Locked out everywhere the key is taken: the admin views and the scrape, the right key included.
    assert_throttled(api.get("/admin/api/index", headers={"X-API-Key": KEY}))
    assert_throttled(api.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}))


def test_the_lockout_ends_when_the_window_passes_and_successes_are_not_counted(app_config: Config, storage: str | None) -> None:
    api = client_of(limited_app(app_config, storage, admin_failures="3/2 seconds"))
    for _ in range(10):  # the right key, as often as a script likes
        assert api.get("/admin/api/index", headers={"X-API-Key": KEY}).status_code == 200
    for _ in range(3):
        assert api.get("/admin/api/index", headers={"X-API-Key": "wrong"}).status_code == 401

    wait = assert_throttled(api.get("/admin/api/index", headers={"X-API-Key": KEY}))
    assert wait <= 2
    time.sleep(wait + 0.1)

    assert api.get("/admin/api/index", headers={"X-API-Key": KEY}).status_code == 200
    assert log_in(api).status_code == 303


def test_an_open_session_is_not_refused_by_the_lockout_of_its_address(app_config: Config, storage: str | None) -> None:
    app = limited_app(app_config, storage, admin_failures="2/minute")
    browser = client_of(app)
    assert log_in(browser).status_code == 303
    for _ in range(3):  # from the same address, by a script
        browser.get("/admin/api/index", headers={"X-API-Key": "wrong"})

    assert_throttled(browser.get("/admin/api/index", headers={"X-API-Key": KEY}))
    assert browser.get("/admin/api/index").status_code == 200  # the session's cookie is no guess at the key
    # Nor is the Authorization a proxy's own HTTP authentication adds to every request.
    assert browser.get("/admin/api/index", headers={"Authorization": "Basic b3BzOnNlY3JldA=="}).status_code == 200


def test_without_trusted_proxies_a_client_cannot_dodge_the_lockout_by_naming_other_addresses(app_config: Config, storage: str | None) -> None:
    api = client_of(limited_app(app_config, storage, trusted_proxies=0, admin_failures="3/minute"))
    for i in range(3):
        api.get("/admin/api/index", headers={"X-API-Key": "wrong", "X-Forwarded-For": f"198.51.100.{i}"})

    assert_throttled(api.get("/admin/api/index", headers={"X-API-Key": KEY, **ELSEWHERE}))
    # A second peer, as the server sees it, is another client.
    assert client_of(api.application).get("/admin/api/index", headers={"X-API-Key": KEY}).status_code == 200


def test_a_client_over_its_search_limit_is_answered_429_never_5xx(app_config: Config, storage: str | None) -> None:
    api = client_of(limited_app(app_config, storage, search="3/minute"))

    statuses = [api.post("/search", json={"text": "tent", "size": 1}).status_code for _ in range(8)]

    assert statuses == [200] * 3 + [429] * 5
    seconds = assert_throttled(api.post("/search", json={"text": "tent", "size": 1}))
    assert seconds <= 60
    assert api.post("/search", json={"text": "tent", "size": 1}, headers=ELSEWHERE).status_code == 200
    assert api.get("/health").status_code == 200  # only searches are limited


def test_recommendations_count_against_a_limit_of_their_own_shared_by_products_and_shoppers(
    app_config: Config, storage: str | None, products: dict[str, dict[str, Any]]
) -> None:
    api = client_of(limited_app(app_config, storage, search="3/minute"))
    tent = products["Tent"]["id"]

    statuses = [api.get(f"/products/{tent}/recommendations?size=2").status_code for _ in range(2)]
    statuses.append(api.get("/users/someone/recommendations?size=2").status_code)
    statuses.append(api.get("/users/someone/recommendations?size=2").status_code)

    assert statuses == [200, 200, 200, 429]
    assert api.post("/search", json={"text": "tent", "size": 1}).status_code == 200  # searches count apart


def test_an_ipv6_client_cannot_dodge_its_limit_by_taking_new_addresses_in_its_network(app_config: Config, storage: str | None) -> None:
    api = limited_app(app_config, storage, search="3/minute", trusted_proxies=0).test_client()
    network = f"2001:db8:{next(_addresses):x}:7"  # a /64 of its own in this run

    statuses = [
        api.post("/search", json={"text": "tent", "size": 1}, environ_base={"REMOTE_ADDR": f"{network}::{n:x}"}).status_code for n in range(1, 7)
    ]

    assert statuses == [200] * 3 + [429] * 3
    other = api.post("/search", json={"text": "tent", "size": 1}, environ_base={"REMOTE_ADDR": f"2001:db8:{next(_addresses):x}:8::1"})
    assert other.status_code == 200  # the next /64 is another subscriber


def test_every_api_process_counts_a_client_together_in_redis(app_config: Config, redis_server: LocalRedis) -> None:
    apps = [limited_app(app_config, redis_server.url, search="4/minute") for _ in range(2)]
    first = client_of(apps[0])
    second = apps[1].test_client()
    second.environ_base["REMOTE_ADDR"] = first.environ_base["REMOTE_ADDR"]  # one client, two API processes

    statuses = [client.post("/search", json={"text": "tent", "size": 1}).status_code for client in (first, second) * 3]

    assert statuses == [200] * 4 + [429] * 2


def test_redis_going_down_mid_run_costs_no_request_and_the_limit_holds_in_memory(app_config: Config, tmp_path: Path) -> None:
    redis = LocalRedis(tmp_path, free_port())
    redis.start()
    try:
        api = client_of(limited_app(app_config, redis.url, search="3/minute"))
        assert [api.post("/search", json={"text": "tent", "size": 1}).status_code for _ in range(2)] == [200, 200]
    finally:
        redis.stop()

    statuses = [api.post("/search", json={"text": "tent", "size": 1}).status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]  # counted afresh in this process's memory


@pytest.fixture
def photo_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that serves one photo at any path."""
    photo = jpeg_bytes((96, 96))

    class Photo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Photo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_searches_that_fetch_a_photo_by_url_have_a_limit_of_their_own(app_config: Config, storage: str | None, photo_server: str) -> None:
    config = dataclasses.replace(app_config, fetch=dataclasses.replace(app_config.fetch, allow_private=True))
    api = client_of(limited_app(config, storage, search="20/minute", url_fetch="2/minute"))

    by_url = [api.post("/search", json={"image_url": f"{photo_server}/{i}.jpg", "size": 1}).status_code for i in range(3)]
    assert by_url == [200, 200, 429]
    assert api.post("/search", json={"image_url": f"{photo_server}/4.jpg", "size": 1}, headers=ELSEWHERE).status_code == 200
    # In a multipart form too, and words alone are not held back by it.
    form = api.post("/search", data={"query": f'{{"image_url": "{photo_server}/5.jpg"}}'}, content_type="multipart/form-data")
    assert_throttled(form)
    assert api.post("/search", json={"text": "tent", "size": 1}).status_code == 200


def test_an_empty_limit_is_off(app_config: Config) -> None:
    api = client_of(limited_app(app_config, None, search="", url_fetch="", admin_failures=""))

    assert all(api.post("/search", json={"text": "tent", "size": 1}).status_code == 200 for _ in range(30))
    assert all(api.get("/admin/api/index", headers={"X-API-Key": "wrong"}).status_code == 401 for _ in range(30))


def test_a_malformed_limit_names_its_variable(app_config: Config) -> None:
    with pytest.raises(ConfigError, match="LOOKALIKE_RATE_LIMIT_SEARCH"):
        limited_app(app_config, None, search="lots")


def test_the_limits_come_from_the_environment() -> None:
    limits = Config.from_env({"LOOKALIKE_RATE_LIMIT_SEARCH": "5/second", "LOOKALIKE_RATE_LIMIT_ADMIN_FAILURES": ""}).limits

    assert limits == LimitsConfig(search="5/second", url_fetch="60/minute", admin_failures="")
