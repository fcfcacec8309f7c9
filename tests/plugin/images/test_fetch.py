"""Fetching images: from a real local HTTP server and real files, with every safeguard exercised for real."""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin.errors import (
    FetchFailed,
    FetchRefused,
    FetchTimedOut,
    ImageTooLarge,
    NotAnImage,
    PathNotAllowed,
    SourceNotFound,
    TooManyRedirects,
    UnsafeURL,
    UnsupportedSource,
)
from plugin.images.fetch import FetchPolicy, fetch_image
from tests.support.cli import free_port
from tests.support.images import jpeg_bytes, png_bytes

PNG = png_bytes()
JPEG = jpeg_bytes()


class ShopImageServer(http.server.BaseHTTPRequestHandler):
    """A shop's image server with the faults real ones have."""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        path = self.path
        if path == "/photo.png":
            self._send(200, PNG, "image/png")
        elif path == "/photo?size=large":
            self._send(200, JPEG, "image/jpeg")
        elif path == "/mislabelled.bin":
            self._send(200, PNG, "application/octet-stream")
        elif path == "/notes.txt":
            self._send(200, b"<html>not a picture</html>", "image/png")  # lies in its header
        elif path.startswith("/hop/"):
            remaining = int(path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/hop/{remaining - 1}" if remaining > 1 else "/photo.png")
            self.end_headers()
        elif path == "/to-file":
            self.send_response(301)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif path == "/missing.png":
            self._send(404, b"gone", "text/plain")
        elif path == "/private.png":
            self._send(403, b"no", "text/plain")
        elif path == "/busy.png":
            self._send(503, b"later", "text/plain")
        elif path == "/huge-declared.png":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
        elif path == "/huge-streamed.png":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the limit must hold while reading
            self.wfile.write(PNG)
            for _ in range(40):
                self.wfile.write(b"\0" * 65536)
        elif path == "/gzip-bomb.png":
            body = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MiB that travels as 50 KiB
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/trickle.png":
            self.send_response(200)
            self.end_headers()
            for byte in PNG[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        elif path == "/trickle-headers.png":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nX-Padding: " + b"x" * 60:
                self.wfile.write(bytes([byte]))  # every read gets a byte in time; the headers never end
                self.wfile.flush()
                time.sleep(0.1)
        elif path == "/slow.png":
            self.send_response(200)
            self.end_headers()
            time.sleep(2)
            self.wfile.write(PNG)
        else:
            self._send(404, b"", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), ShopImageServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


#: The shop's server runs on this machine, so these tests allow loopback addresses.
LOCAL = FetchPolicy(allow_private=True, read_timeout=1.0, max_bytes=1024 * 1024)


def test_an_image_url_is_fetched_with_its_format_judged_from_the_bytes(shop: str) -> None:
    fetched = fetch_image(f"{shop}/mislabelled.bin", LOCAL)

    assert fetched.data == PNG
    assert fetched.media_type == "image/png"
    assert fetched.location == f"{shop}/mislabelled.bin"
    assert fetch_image(f"{shop}/photo?size=large", LOCAL).media_type == "image/jpeg"


def test_redirects_are_followed_up_to_the_limit(shop: str) -> None:
    fetched = fetch_image(f"{shop}/hop/3", LOCAL)
    assert fetched.data == PNG and fetched.location == f"{shop}/photo.png"

    with pytest.raises(TooManyRedirects, match="redirected more than 3 times"):
        fetch_image(f"{shop}/hop/4", LOCAL)


def test_a_redirect_to_a_local_file_is_refused(shop: str) -> None:
    with pytest.raises(UnsupportedSource, match="redirected to a non-http URL"):
        fetch_image(f"{shop}/to-file", LOCAL)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/photo.png",
        "http://localhost:{port}/photo.png",
        "http://[::1]:{port}/photo.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/photo.png",
        "http://192.168.0.10/photo.png",
        "http://0.0.0.0:{port}/photo.png",
        "http://[::ffff:127.0.0.1]:{port}/photo.png",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[2002:7f00:1::1]/photo.png",
    ],
)
def test_non_public_addresses_are_refused_by_default(url: str, shop: str) -> None:
    port = shop.rsplit(":", 1)[1]

    with pytest.raises(UnsafeURL, match="non-public address") as excinfo:
        fetch_image(url.format(port=port), FetchPolicy())  # refused before any connection is made

    assert excinfo.value.reason == "unsafe_url" and not excinfo.value.retryable


@pytest.mark.parametrize(
    ("path", "error", "reason", "retryable"),
    [
        ("/missing.png", SourceNotFound, "not_found", False),
        ("/private.png", FetchRefused, "fetch_refused", False),
        ("/busy.png", FetchFailed, "fetch_failed", True),
        ("/notes.txt", NotAnImage, "not_an_image", False),
        ("/huge-declared.png", ImageTooLarge, "image_too_large", False),
        ("/huge-streamed.png", ImageTooLarge, "image_too_large", False),
        ("/slow.png", FetchFailed, "fetch_failed", True),
    ],
)
def test_server_faults_become_typed_errors(shop: str, path: str, error: type[Exception], reason: str, retryable: bool) -> None:
    with pytest.raises(error) as excinfo:
        fetch_image(f"{shop}{path}", LOCAL)

    assert excinfo.value.reason == reason  # type: ignore[attr-defined]
    assert excinfo.value.retryable is retryable  # type: ignore[attr-defined]
    assert excinfo.value.source == f"{shop}{path}"  # type: ignore[attr-defined]


def test_a_compressed_body_is_not_inflated_past_the_limit(shop: str) -> None:
    # The fetcher asks for identity encoding and never decompresses, so a gzip bomb stays
    # 50 KiB of bytes that are no image.
    with pytest.raises(NotAnImage):
        fetch_image(f"{shop}/gzip-bomb.png", LOCAL)


@pytest.mark.parametrize("path", ["/trickle.png", "/trickle-headers.png"])
def test_a_server_that_trickles_bytes_is_cut_off_by_the_overall_deadline(shop: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimedOut, match="did not arrive within 1.5 s") as excinfo:
        fetch_image(f"{shop}{path}", dataclasses.replace(LOCAL, connect_timeout=0.5, read_timeout=1.0))  # 1.5 s in all
    assert 1.4 < time.monotonic() - started < 2.5
    assert (excinfo.value.reason, excinfo.value.retryable) == ("fetch_timeout", True)


def test_a_total_timeout_overrides_the_sum_of_connect_and_read(shop: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimedOut, match="within 0.5 s"):
        fetch_image(f"{shop}/trickle-headers.png", dataclasses.replace(LOCAL, total_timeout=0.5))
    assert time.monotonic() - started < 1.5
    assert fetch_image(f"{shop}/photo.png", dataclasses.replace(LOCAL, total_timeout=0.5)).data == PNG  # a quick one is untouched


def test_the_deadline_also_bounds_a_tls_handshake_that_never_ends() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts the connection; nobody ever answers
        started = time.monotonic()
        with pytest.raises(FetchTimedOut):
            fetch_image(f"https://127.0.0.1:{silent.getsockname()[1]}/photo.png", dataclasses.replace(LOCAL, read_timeout=10, total_timeout=0.5))
        assert time.monotonic() - started < 1.5


def test_a_connection_that_is_never_accepted_gets_only_the_time_left() -> None:
    # A listener whose queue is full: the kernel drops further connection attempts, which then hang
    # unanswered, as with a host that drops packets. The socket is not the deadline's to shut yet.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as full:
        waiting = [socket.socket() for _ in range(3)]
        for sock in waiting:
            sock.setblocking(False)
            sock.connect_ex(full.getsockname())
        try:
            started = time.monotonic()
            with pytest.raises(FetchFailed):
                fetch_image(f"http://127.0.0.1:{full.getsockname()[1]}/photo.png", dataclasses.replace(LOCAL, connect_timeout=5, total_timeout=0.5))
            assert time.monotonic() - started < 1.5  # not the 5 s connect timeout
        finally:
            for sock in waiting:
                sock.close()


def test_errors_name_the_url_never_the_address_its_host_resolved_to(shop: str) -> None:
    # The API shows these messages to anyone: a resolved address would map a private network.
    port = shop.rsplit(":", 1)[1]
    with pytest.raises(UnsafeURL) as refused:
        fetch_image(f"http://localhost:{port}/photo.png", FetchPolicy())
    with pytest.raises(FetchFailed) as failed:
        fetch_image(f"http://localhost:{free_port()}/photo.png", LOCAL)  # allowed, but nothing listens there
    for message in (str(refused.value), str(failed.value)):
        assert "localhost" in message
        assert "127.0.0.1" not in message and "::1" not in message
    assert "connection was refused" in str(failed.value)


@pytest.mark.parametrize("url", ["http://shop.example:99999/a.png", "http://shop.example:abc/a.png", "http://[::1/a.png", f"http://{'a' * 70}.example/a.png"])
def test_malformed_urls_are_unsupported_not_a_crash(url: str) -> None:
    with pytest.raises(UnsupportedSource):
        fetch_image(url, LOCAL)


def test_an_unreachable_host_is_a_retryable_failure() -> None:
    with pytest.raises(FetchFailed) as excinfo:
        fetch_image(f"http://127.0.0.1:{free_port()}/photo.png", LOCAL)  # nothing listens there
    assert excinfo.value.retryable


def test_an_unresolvable_host_is_a_retryable_failure() -> None:
    with pytest.raises(FetchFailed, match="cannot resolve host"):
        fetch_image("http://no-such-host.invalid/photo.png", LOCAL)


@pytest.mark.parametrize("url", ["ftp://shop.example/a.png", "gopher://x/", "data:image/png;base64,AAAA"])
def test_other_schemes_are_unsupported(url: str) -> None:
    with pytest.raises(UnsupportedSource):
        fetch_image(url, LOCAL)


def test_local_files_are_read_only_under_the_configured_roots(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    (root / "shoe.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(PNG)
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    policy = dataclasses.replace(LOCAL, local_roots=(root,))

    assert fetch_image(str(root / "shoe.png"), policy).data == PNG
    assert fetch_image(f"file://{root / 'shoe.png'}", policy).media_type == "image/png"
    for outside in (tmp_path / "secret.png", root / ".." / "secret.png", root / "link.png"):
        with pytest.raises(PathNotAllowed, match="outside the allowed image directories"):
            fetch_image(str(outside), policy)
    with pytest.raises(SourceNotFound):
        fetch_image(str(root / "nope.png"), policy)
    with pytest.raises(PathNotAllowed, match="none configured"):
        fetch_image(str(root / "shoe.png"), LOCAL)
