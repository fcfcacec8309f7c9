"""Fetch image bytes from an http(s) URL or a local file, safely.

Shared by ingest (catalogue images) and the API (a query photo given by URL), because both
take URLs from people they do not control. The rules:

* only ``http``/``https`` URLs and files under the configured roots;
* every address a host name resolves to must be public, unless private addresses are
  allowed by configuration, and the connection goes to the address that was checked, so a
  DNS answer that changes between check and connect cannot redirect it (server-side
  request forgery);
* connect and read timeouts, and a deadline for the whole fetch (connection, TLS, headers,
  body and redirects) that a server trickling a byte at a time cannot stretch;
* a byte limit enforced while streaming, a bounded number of redirects, each redirect
  checked like the first URL;
* the format is judged from the bytes, never from the ``Content-Type`` header or the name;
* error messages name the URL, never the addresses its host resolved to (they go to the
  log): the API shows them to anyone, and they would map a private network.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import filetype
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from plugin.errors import (
    FetchFailed,
    FetchRefused,
    FetchTimedOut,
    ImageTooLarge,
    NotAnImage,
    PathNotAllowed,
    SourceError,
    SourceNotFound,
    TooManyRedirects,
    UnsafeURL,
    UnsupportedSource,
)
from plugin.images.decode import IMAGE_FORMATS

log = logging.getLogger(__name__)

#: Formats lookalike decodes, as ``filetype`` names their MIME types.
IMAGE_TYPES = frozenset(IMAGE_FORMATS)

_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 5.0
    #: Longest wait for any one read.
    read_timeout: float = 15.0
    #: Longest the whole fetch may take, redirects included; None: ``connect_timeout + read_timeout``.
    total_timeout: float | None = None
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 3
    #: Allow loopback, private and link-local addresses (a shop's own image server on its LAN).
    allow_private: bool = False
    #: Local image files may only be read from under these directories; none by default.
    local_roots: tuple[Path, ...] = ()
    user_agent: str = "lookalike-image-fetcher/0.1"


@dataclasses.dataclass(frozen=True)
class FetchedImage:
    data: bytes
    #: The URL or path as given.
    source: str
    #: Where the bytes finally came from, after redirects.
    location: str
    #: The format judged from the bytes, e.g. ``image/png``.
    media_type: str


def fetch_image(source: str, policy: FetchPolicy) -> FetchedImage:
    """Return the bytes of the image at *source* (an http(s) URL, a ``file:`` URL or a path).

    Raises a :class:`~plugin.errors.SourceError` subclass whose ``reason`` names the fault.
    """
    try:
        scheme = urlsplit(source).scheme.lower()
    except ValueError as exc:
        raise UnsupportedSource(f"{source!r} is not a valid URL or path: {exc}", source=source) from exc
    if scheme in ("http", "https"):
        data, location = _fetch_http(source, policy)
    elif scheme == "file" or scheme == "" or (len(scheme) == 1 and source[1:3] in (":\\", ":/")):
        path = Path(unquote(urlsplit(source).path) if scheme == "file" else source)
        data, location = _read_local(path, policy), str(path)
    else:
        raise UnsupportedSource(f"unsupported image source scheme {scheme!r}: use http(s) or a file path", source=source)
    return FetchedImage(data=data, source=source, location=location, media_type=sniff_image_type(data, source))


def sniff_image_type(data: bytes, source: str = "") -> str:
    """The image format of *data*, judged from its leading bytes; :class:`NotAnImage` if none fits."""
    kind = filetype.guess(data[:262])
    if kind is None or kind.mime not in IMAGE_TYPES:
        found = kind.mime if kind is not None else "unrecognised bytes"
        raise NotAnImage(f"{source or 'the data'} is not a supported image ({found})", source=source)
    return kind.mime


def check_address(host: str, port: int, policy: FetchPolicy, source: str = "") -> list[str]:
    """Resolve *host* and return its addresses, refusing any non-public one unless allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchFailed(f"cannot resolve host {host!r}: {exc.strerror}", source=source) from exc
    except (UnicodeError, ValueError) as exc:
        raise UnsupportedSource(f"{host!r} is not a valid host name", source=source) from exc
    addresses = sorted({info[4][0] for info in infos})
    if not policy.allow_private:
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address.split("%")[0])):
                log.info("refused %s: %s resolves to %s", source or host, host, address)
                raise UnsafeURL(
                    f"{source or host} resolves to a non-public address; set LOOKALIKE_FETCH_ALLOW_PRIVATE=true to allow it",
                    source=source,
                )
    return addresses


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("::/96"))


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address, and for IPv6 forms that carry an IPv4 address, that address too."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if any(ip in network for network in _NAT64):
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(_is_public(v4) for v4 in embedded if v4 is not None)
    return True


def _total_seconds(policy: FetchPolicy) -> float:
    """Seconds a fetch under *policy* may take in all."""
    return policy.total_timeout if policy.total_timeout is not None else policy.connect_timeout + policy.read_timeout


def _fetch_http(url: str, policy: FetchPolicy) -> tuple[bytes, str]:
    # The read timeout bounds each read; the deadline bounds the whole fetch, so a server that
    # trickles a byte at a time (headers or body) cannot hold the caller's thread.
    limit = _total_seconds(policy)
    with _Deadline(limit) as deadline:
        try:
            fetched = _follow_redirects(url, policy, deadline)
        except (SourceError, OSError, http.client.HTTPException) as exc:
            if deadline.expired:
                raise _timed_out(url, limit) from exc
            raise
        if deadline.expired:  # the socket was shut under a read that then saw a clean end: the bytes may be cut short
            raise _timed_out(url, limit)
        return fetched


def _timed_out(url: str, seconds: float) -> FetchTimedOut:
    return FetchTimedOut(f"{url} did not arrive within {seconds:g} s", source=url)


def _follow_redirects(url: str, policy: FetchPolicy, deadline: _Deadline) -> tuple[bytes, str]:
    current = url
    for _ in range(policy.max_redirects + 1):
        if deadline.expired:  # between two hops: the next one would start with no time left
            raise _timed_out(url, deadline.seconds)
        response = _request_once(current, policy, url, deadline)
        try:
            if response.status in _REDIRECTS:
                target = response.headers.get("Location")
                if not target:
                    raise FetchRefused(f"{current} redirected without a Location", source=url)
                current = urljoin(current, target)
                if urlsplit(current).scheme.lower() not in ("http", "https"):
                    raise UnsupportedSource(f"{url} redirected to a non-http URL", source=url)
                continue
            _raise_for_status(response.status, current, url)
            return _read_limited(response, policy, url, deadline), current
        finally:
            response.release_conn()
    raise TooManyRedirects(f"{url} redirected more than {policy.max_redirects} times", source=url)


class _Deadline:
    """Shuts a fetch's sockets when its time is up, so a read blocked on a trickling server returns at once.

    Per-read timeouts cannot do this: a server that sends one byte a second satisfies every
    one of them. The sockets watched are duplicates, so shutting one down never touches a
    descriptor that was closed and reused meanwhile.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds, self.expired = seconds, False
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def remaining(self) -> float:
        """Seconds left, never less than a millisecond (a timeout of 0 would mean "do not wait" to some calls)."""
        return max(0.001, self._ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut *sock* down when the deadline passes (at once if it has)."""
        with self._lock:
            self._sockets.append(sock.dup())
            if self.expired:
                _shut(self._sockets[-1])

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer


class _WatchedConnection:
    """A urllib3 connection that hands its socket to the fetch's :class:`_Deadline` the moment it connects."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def _new_conn(self) -> socket.socket:  # the TCP connection, before any TLS handshake
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        self._deadline.watch(sock)
        return sock


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _request_once(url: str, policy: FetchPolicy, original: str, deadline: _Deadline) -> urllib3.BaseHTTPResponse:
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as exc:
        raise UnsupportedSource(f"{url!r} is not a valid URL: {exc}", source=original) from exc
    if not parts.hostname:
        raise UnsupportedSource(f"{url} has no host name", source=original)
    https = parts.scheme.lower() == "https"
    port = explicit_port or (443 if https else 80)
    address = check_address(parts.hostname, port, policy, source=original)[0]
    # Connect to the address that was checked; the Host header and TLS name stay the original host.
    pool_kwargs: dict[str, object] = {
        # A connection that never completes is not yet watched by the deadline: it gets only the time left.
        "timeout": urllib3.Timeout(connect=min(policy.connect_timeout, deadline.remaining()), read=policy.read_timeout),
        "retries": False,
        "deadline": deadline,
    }
    if https:
        pool_kwargs.update(server_hostname=parts.hostname, assert_hostname=parts.hostname)
    pool_class = _HTTPSPool if https else _HTTPPool
    pool = pool_class(address, port, **pool_kwargs)  # type: ignore[arg-type]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host_header = host if explicit_port is None else f"{host}:{explicit_port}"
    try:
        return pool.urlopen(
            "GET",
            path,
            # identity: a compressed body could expand far past max_bytes before any check ran.
            headers={"Host": host_header, "User-Agent": policy.user_agent, "Accept": "image/*", "Accept-Encoding": "identity"},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
    except Urllib3HTTPError as exc:
        raise _failed(f"fetching {url} failed", exc, original, policy) from exc


def _failed(what: str, exc: Urllib3HTTPError, source: str, policy: FetchPolicy) -> FetchFailed:
    """A :class:`FetchFailed` that says what went wrong in words of its own.

    urllib3's messages name the address the connection went to, the resolved one; those go
    to the log only.
    """
    log.info("%s: %s", what, exc)
    if isinstance(exc, NewConnectionError):  # first: urllib3 derives it from ConnectTimeoutError
        cause = "the connection was refused or could not be made"
    elif isinstance(exc, ConnectTimeoutError):
        cause = f"no connection within {policy.connect_timeout:g} s"
    elif isinstance(exc, ReadTimeoutError):
        cause = f"the server sent nothing for {policy.read_timeout:g} s"
    elif isinstance(exc, SSLError):
        cause = "the TLS handshake or certificate check failed"
    elif isinstance(exc, ProtocolError):
        cause = "the connection broke"
    else:
        cause = type(exc).__name__
    return FetchFailed(f"{what}: {cause}", source=source)


def _raise_for_status(status: int, url: str, original: str) -> None:
    if status < 400:
        return
    if status in (404, 410):
        raise SourceNotFound(f"{url} answered {status} (not found)", source=original)
    if status == 429 or status >= 500:
        raise FetchFailed(f"{url} answered {status}; try again later", source=original)
    raise FetchRefused(f"{url} answered {status}", source=original)


def _read_limited(response: urllib3.BaseHTTPResponse, policy: FetchPolicy, source: str, deadline: _Deadline) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise ImageTooLarge(f"{source} is {int(declared)} bytes, over the limit of {policy.max_bytes}", source=source)
    chunks: list[bytes] = []
    total = 0
    try:
        while not deadline.expired and (chunk := response.read1(_CHUNK, decode_content=False)):  # what has arrived
            total += len(chunk)
            if total > policy.max_bytes:
                raise ImageTooLarge(f"{source} is over the limit of {policy.max_bytes} bytes", source=source)
            chunks.append(chunk)
    except Urllib3HTTPError as exc:
        raise _failed(f"reading {source} failed", exc, source, policy) from exc
    return b"".join(chunks)


def _read_local(path: Path, policy: FetchPolicy) -> bytes:
    try:
        return _read_local_checked(path, policy)
    except (OSError, RuntimeError, ValueError) as exc:  # unknown ~user, NUL byte, permissions
        raise SourceNotFound(f"{path} cannot be read: {exc}", source=str(path)) from exc


def _read_local_checked(path: Path, policy: FetchPolicy) -> bytes:
    resolved = path.expanduser().resolve()
    roots = [root.expanduser().resolve() for root in policy.local_roots]
    if not any(resolved.is_relative_to(root) for root in roots):
        allowed = ", ".join(map(str, roots)) or "none configured (LOOKALIKE_IMAGE_ROOTS)"
        raise PathNotAllowed(f"{path} is outside the allowed image directories: {allowed}", source=str(path))
    if not resolved.is_file():
        raise SourceNotFound(f"{path} does not exist or is not a file", source=str(path))
    with open(resolved, "rb") as handle:
        data = handle.read(policy.max_bytes + 1)  # never more, even if the file grows meanwhile
    if len(data) > policy.max_bytes:
        raise ImageTooLarge(f"{path} is over the limit of {policy.max_bytes} bytes", source=str(path))
    return data
