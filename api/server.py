"""Serving the API: waitress, held to limits that keep one client from starving the others.

Waitress reads each request whole in its one event-loop thread before a request thread sees
it, so a slow or half-sent request costs a connection, never a thread. Its own limits stop
there: a cap on connections in all, and one idle timeout that a client trickling a byte now
and then never reaches. :class:`GuardedServer` adds what it lacks, in the same event loop:

* a cap on open connections per client address (``config.serve.client_connections``); more
  are closed the moment they are accepted;
* a deadline for each request to arrive whole, headers and body, counted from its first
  byte (for a new connection, from the moment it opened): ``config.serve.read_timeout``;
* the idle timeout of a kept-alive connection (``config.serve.idle_timeout``).

Given a TLS context (:func:`tls_context`, from ``LOOKALIKE_TLS_CERT`` and ``LOOKALIKE_TLS_KEY``),
the server speaks HTTPS only. TLS runs in the same event loop (:class:`TLSChannel`): handshakes
are non-blocking, so a client that connects and never finishes one costs a connection, never a
thread, and answers to the same per-client cap and read deadline as a half-sent request. A
plain HTTP request on that port gets a ``400`` naming HTTPS, never a page.

Both ``lookalike serve`` and ``lookalike demo`` build their server with :func:`build_server`.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import resource
import socket
import ssl
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from api.app import create_app
from api.limits import client_key
from plugin.config import Config, ServeConfig
from plugin.errors import ConfigError
from plugin.models.registry import usable_cores

log = logging.getLogger(__name__)

#: Seconds between the guard's rounds over the open connections (waitress takes whole seconds).
CHECK_INTERVAL = 1
#: Seconds between two log lines about refused or dropped connections: an attack must not flood the log.
REPORT_INTERVAL = 60.0
#: Connections the kernel holds for the server before it accepts them (waitress's default).
BACKLOG = 1024
#: Files the process keeps open besides its connections (the model, the cluster's connections, logs).
OWN_FILES = 256
#: The first byte of every TLS connection: a handshake record (RFC 8446, 5.1).
TLS_HANDSHAKE_RECORD = 0x16
_HTTPS_ONLY_BODY = b"This port speaks HTTPS only: ask for https:// instead of http://.\n"
#: What a plain HTTP request on the HTTPS port is told before the connection closes.
HTTPS_ONLY = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_HTTPS_ONLY_BODY), _HTTPS_ONLY_BODY)
)
#: Errors of a connection its client has dropped (wasyncore's list): closed quietly, as waitress does.
DISCONNECTED = frozenset({errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNABORTED, errno.EPIPE, errno.EBADF})


def request_threads() -> int:
    """Waitress threads by default: two per core (``lookalike bench load`` chose it; README, Performance).

    Enough requests in flight to keep the API and the OpenSearch node beside it busy, few
    enough that each finishes soon: more threads share the cores among more requests and
    stretch the slowest ones (p99 1.8 x p50 with 8 or 16 threads on 2 cores, 1.5 with 4).
    """
    return 2 * usable_cores()


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on *host*:*port* for the server, opened first so that a taken port fails
    before anything slow (the model, the demo's set-up); raises :class:`OSError` as ``bind`` does.

    It listens at once: the port is then truly taken (two sockets merely bound with
    ``SO_REUSEADDR`` may share one), and a client that comes early waits for the server
    instead of being refused.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does: a closed socket's TIME_WAIT is no obstacle
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for the PEM certificate chain *cert* and its private *key*; raises
    :class:`ConfigError` naming the settings when they cannot be loaded or do not match.

    TLS 1.2 and newer (Python's default for servers, stated so it stays so) and no
    renegotiation, which a client could use to make the server redo handshakes on demand.
    """
    settings = f"LOOKALIKE_TLS_CERT={str(cert)!r} and LOOKALIKE_TLS_KEY={str(key)!r}"

    def encrypted() -> bytes:  # instead of OpenSSL's prompt on the terminal, which a service never answers
        raise ConfigError(f"cannot serve HTTPS with {settings}: the key is encrypted; give the server an unencrypted key readable only by it")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])  # a client offering HTTP/2 learns in the handshake what is spoken here
    try:
        context.load_cert_chain(cert, key, password=encrypted)
    except ssl.SSLError as exc:
        problem = "the key is not the certificate's" if exc.reason == "KEY_VALUES_MISMATCH" else "they are not a PEM certificate (chain) and its private key"
        raise ConfigError(f"cannot serve HTTPS with {settings}: {problem}") from None
    except OSError as exc:
        raise ConfigError(f"cannot serve HTTPS with {settings}: {exc.strerror or exc}") from None
    return context


def build_server(config: Config, sock: socket.socket, threads: int | None = None, tls: ssl.SSLContext | None = None) -> GuardedServer:
    """The API for *config* under waitress on the listening *sock*, with *threads* request threads (two per core by default);
    HTTPS only when given a *tls* context.

    Requests run in parallel, so each runs the model on one thread unless
    ``LOOKALIKE_INFERENCE_THREADS`` says otherwise, and numpy's BLAS on one thread: idle
    threads of a wider pool spin between the small products a query needs, which cost the
    API 95 ms of CPU per query instead of 16 (``lookalike bench load``). Query-time photo
    fetches get half the threads unless ``LOOKALIKE_QUERY_FETCHES`` says otherwise.
    """
    from threadpoolctl import threadpool_limits

    threads = threads or request_threads()
    threadpool_limits(1, user_api="blas")
    settings = dataclasses.replace(config.serve, query_fetches=config.serve.query_fetches or max(1, threads // 2))
    config = dataclasses.replace(config, inference_threads=config.inference_threads or 1, serve=settings)
    return GuardedServer(create_app(config), sock, config.serve, threads, tls)


def serve(config: Config, sock: socket.socket, threads: int | None = None, tls: ssl.SSLContext | None = None) -> None:
    """Serve the API on *sock* until interrupted, over HTTPS when given a *tls* context."""
    server = build_server(config, sock, threads, tls)
    try:
        server.run()
    finally:
        server.close()


class GuardedChannel(HTTPChannel):
    """One client connection, which must deliver each request whole in time."""

    server: GuardedServer
    #: Whether this connection is in its client's count (until it is closed, once).
    counted = False

    def __init__(self, server: GuardedServer, sock: socket.socket, addr: Any, adj: Adjustments, map: dict[int, Any] | None = None) -> None:
        super().__init__(server, sock, addr, adj, map)
        self.client: str = client_key(addr[0])
        server.clients[self.client] += 1
        self.counted = True
        #: When the request being received began; None between requests. A new connection owes its first request at once.
        self.receiving_since: float | None = self.creation_time

    def received(self, data: bytes) -> bool:
        if data and self.receiving_since is None:
            self.receiving_since = time.time()
        done: bool = super().received(data)
        if self.request is None:  # nothing half-received: every request so far arrived whole
            self.receiving_since = None
        return done

    def del_channel(self, map: dict[int, Any] | None = None) -> None:
        super().del_channel(map)
        if self.counted:  # once, however often the channel is closed
            self.counted = False
            self.server.clients[self.client] -= 1
            if self.server.clients[self.client] <= 0:
                del self.server.clients[self.client]


class TLSChannel(GuardedChannel):
    """One HTTPS client connection, its TLS run in the event loop like the rest of waitress's I/O.

    It goes through three states: *sniffing* (nothing read yet: the first byte says whether
    the client speaks TLS), *handshaking* (wrapped, the handshake advanced each time the
    socket is ready, never waited for) and open (requests, as in :class:`GuardedChannel`).
    The read deadline counts from the moment the connection opened, so it covers the
    handshake too. Request threads write responses themselves (waitress flushes from
    ``write_soon``) while the event loop may read: one OpenSSL connection must not be used by
    two threads at once, so every call into it holds :attr:`tls_lock`.
    """

    #: The connection: a plain socket until the first byte says the client speaks TLS, an SSL socket from then on.
    socket: Any
    #: The socket is wrapped in TLS.
    wrapped = False
    #: The handshake is done: what arrives now is HTTP.
    handshaken = False
    #: The handshake waits to send (the kernel's buffer was full), not to receive.
    handshake_wants_write = False

    def __init__(self, server: GuardedServer, sock: socket.socket, addr: Any, adj: Adjustments, map: dict[int, Any] | None = None) -> None:
        if server.tls is None:
            raise TypeError("a TLS channel needs a server with a TLS context")
        self.context: ssl.SSLContext = server.tls
        self.tls_lock = threading.Lock()
        super().__init__(server, sock, addr, adj, map)

    def readable(self) -> bool:
        if not self.handshaken:
            return not (self.will_close or self.close_when_flushed or self.handshake_wants_write)
        return bool(super().readable())

    def writable(self) -> bool:
        if not self.handshaken and not self.close_when_flushed:
            return self.will_close or self.handshake_wants_write
        return bool(super().writable())

    def handle_read(self) -> None:
        if not self.wrapped:
            self._sniff()
        elif not self.handshaken:
            self._advance_handshake()
        else:
            self._read_records()

    def handle_write(self) -> None:
        if self.wrapped and not self.handshaken and not self.will_close:
            self._advance_handshake()
        else:  # open, closing, or answering a plain HTTP client: waitress's own flush and close
            super().handle_write()

    def send(self, data: bytes, do_close: bool = True) -> int:
        """Send what TLS takes of *data* now: 0 when it must wait for the socket, as waitress expects of a busy one."""
        try:
            with self.tls_lock:
                return int(self.socket.send(data))
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            return 0  # OpenSSL keeps the record; the same bytes come again when the socket can take them
        except OSError as exc:
            if exc.errno in DISCONNECTED or isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
                if do_close:  # outside the lock: closing takes waitress's own locks
                    self.handle_close()
                return 0
            raise

    def handle_close(self) -> None:
        """Close, telling a TLS client first (close_notify), so that it can tell a whole answer from a cut one."""
        if self.handshaken and isinstance(self.socket, ssl.SSLSocket):
            try:
                with self.tls_lock:
                    self.socket.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass  # sent; the client's own close_notify is not worth waiting for
            except (OSError, ValueError):
                pass  # the client is gone already
        super().handle_close()

    def _sniff(self) -> None:
        """Look at the first byte without taking it: TLS gets its handshake, anything else the HTTPS-only answer."""
        try:
            first = self.socket.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError:
            self.handle_close()
            return
        if not first:
            self.handle_close()
        elif first[0] == TLS_HANDSHAKE_RECORD:
            try:
                # The SSL socket takes over the same descriptor (and its non-blocking mode): waitress's map still holds it.
                self.socket = self.context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
            except OSError:  # the client left meanwhile
                self.handle_close()
                return
            self.wrapped = True
            self._advance_handshake()
        else:
            self._refuse_plain_http()

    def _refuse_plain_http(self) -> None:
        """Answer 400 and close once it is sent. The request is read first: closing a socket with
        unread bytes sends a reset, and the client would lose the answer with it."""
        try:
            self.socket.recv(self.adj.recv_bytes)
        except OSError:
            pass
        with self.outbuf_lock:
            self.outbufs[-1].append(HTTPS_ONLY)
            self.total_outbufs_len += len(HTTPS_ONLY)
        self.close_when_flushed = True
        self.server.plain_refused += 1

    def _advance_handshake(self) -> None:
        try:
            with self.tls_lock:
                self.socket.do_handshake()
        except ssl.SSLWantReadError:
            self.handshake_wants_write = False
            return
        except ssl.SSLWantWriteError:
            self.handshake_wants_write = True
            return
        except OSError:  # not TLS after all, no protocol in common, or gone: there is no one to answer
            self.handle_close()
            return
        self.handshaken = True
        self.handshake_wants_write = False
        if self.socket.pending():  # a request decrypted with the handshake's last record: poll() cannot see it
            self._read_records()

    def _read_records(self) -> None:
        """Take every byte TLS has for waitress now, and hand them on as ``recv`` would."""
        try:
            with self.tls_lock:
                data = self.socket.recv(self.adj.recv_bytes)
                # A record decrypts whole, up to 16 KB; what recv left of it waits inside OpenSSL,
                # where poll() cannot see it, so the rest of a request would wait for the deadline.
                while data and (left := self.socket.pending()):
                    data += self.socket.recv(left)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return  # only part of a record has arrived
        except OSError:
            self.handle_close()
            return
        if not data:  # the client closed (with close_notify or without)
            self.handle_close()
            return
        self.last_activity = time.time()
        self.received(data)


class GuardedServer(TcpWSGIServer):
    """Waitress's server with a per-client cap on connections and a deadline for each request to arrive."""

    channel_class: type[GuardedChannel] = GuardedChannel
    #: The TLS context of an HTTPS server; None: plain HTTP.
    tls: ssl.SSLContext | None = None

    def __init__(self, app: Flask, sock: socket.socket, settings: ServeConfig, threads: int, tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        if tls is not None:
            self.tls = tls
            self.channel_class = TLSChannel
        #: Plain HTTP requests answered with :data:`HTTPS_ONLY` since the last report.
        self.plain_refused = 0
        # Behind a reverse proxy every connection comes from the proxy: capping it would cap everyone.
        self.client_cap = settings.connection_limit if settings.trusted_proxies else settings.client_connections
        #: Open connections by client address.
        self.clients: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._overdue = 0
        self._next_report = 0.0
        _allow_open_files(settings.connection_limit + OWN_FILES)
        adj = Adjustments(
            sockets=[sock],
            threads=threads,
            connection_limit=settings.connection_limit,
            cleanup_interval=CHECK_INTERVAL,
            # poll(2), not select(2): select fails outright on descriptors past 1023, which a full server reaches.
            asyncore_use_poll=True,
            # The app refuses larger bodies anyway; waitress would otherwise buffer up to 1 GB of one first.
            max_request_body_size=int(app.config["MAX_CONTENT_LENGTH"]),
            # Behind trusted proxies the app reads X-Forwarded-* itself (api/limits.py); otherwise waitress drops them.
            clear_untrusted_proxy_headers=not settings.trusted_proxies,
            # The app builds its own links (redirects, thumbnails) with the scheme it was reached by.
            url_scheme="https" if tls is not None else "http",
        )
        super().__init__(app, map={}, _sock=sock, adj=adj, bind_socket=False, sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))

    def handle_accept(self) -> None:
        """Accept a connection, unless its client already holds its share of them (waitress's own, plus the cap)."""
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            self.set_socket_options(conn)
        except OSError:  # as waitress: a client gone before the accept completed
            if self.adj.log_socket_errors:
                self.logger.warning("server accept() threw an exception", exc_info=True)
            return
        addr = self.fix_addr(addr)
        client = client_key(addr[0])
        if self.clients[client] >= self.client_cap:
            conn.close()
            self._refused[client] += 1
            return
        self.channel_class(self, conn, addr, self.adj, map=self._map)

    def maintenance(self, now: float) -> None:
        """Close connections whose request is overdue, and kept-alive ones idle too long (replaces waitress's rule)."""
        for channel in list(self.active_channels.values()):
            if channel.requests:  # a request being answered: the app's time, not the client's
                continue
            since = getattr(channel, "receiving_since", None)
            if since is not None and now - since > self.settings.read_timeout:
                channel.will_close = True
                self._overdue += 1
            elif since is None and now - channel.last_activity > self.settings.idle_timeout:
                channel.will_close = True
        if (self._refused or self._overdue or self.plain_refused) and now >= self._next_report:
            self._report()
            self._next_report = now + REPORT_INTERVAL

    def stop(self) -> None:
        """Stop :meth:`run` from another thread: the event loop closes every connection and returns."""

        def close_everything() -> None:
            for channel in list(self.active_channels.values()):
                channel.handle_close()
            self.close()

        # Request threads first: each one ending wakes the event loop through the trigger, which
        # must still be open then.
        self.task_dispatcher.shutdown()
        self.trigger.pull_trigger(close_everything)

    def _report(self) -> None:
        if self._refused:
            worst, count = self._refused.most_common(1)[0]
            log.warning(
                "refused %d connections over the cap of %d per client (LOOKALIKE_SERVE_CLIENT_CONNECTIONS), %d of them from %s",
                sum(self._refused.values()), self.client_cap, count, worst,
            )
        if self._overdue:
            log.warning(
                "closed %d connections that did not send a whole request within %g s (LOOKALIKE_SERVE_READ_TIMEOUT)",
                self._overdue, self.settings.read_timeout,
            )
        if self.plain_refused:
            log.warning("answered %d plain HTTP requests with 400: this port speaks HTTPS only (LOOKALIKE_TLS_CERT)", self.plain_refused)
        self._refused.clear()
        self._overdue = 0
        self.plain_refused = 0


def _allow_open_files(wanted: int) -> None:
    """Raise the soft limit on open files to *wanted* where the hard limit allows: many systems
    start processes at 1,024, fewer than the connection limit, and an accept that fails for want
    of a descriptor fails again on every turn of the event loop."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning("only %d open files are allowed (ulimit -n); lower LOOKALIKE_SERVE_CONNECTION_LIMIT or raise the limit", target)


__all__ = ["GuardedServer", "TLSChannel", "build_server", "listening_socket", "request_threads", "serve", "tls_context"]
