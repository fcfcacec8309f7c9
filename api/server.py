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

Both ``lookalike serve`` and ``lookalike demo`` build their server with :func:`build_server`.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import socket
import time
from collections import Counter
from typing import Any

from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from api.app import create_app
from api.limits import client_key
from plugin.config import Config, ServeConfig
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


def build_server(config: Config, sock: socket.socket, threads: int | None = None) -> GuardedServer:
    """The API for *config* under waitress on the listening *sock*, with *threads* request threads (two per core by default).

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
    return GuardedServer(create_app(config), sock, config.serve, threads)


def serve(config: Config, sock: socket.socket, threads: int | None = None) -> None:
    """Serve the API on *sock* until interrupted."""
    server = build_server(config, sock, threads)
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


class GuardedServer(TcpWSGIServer):
    """Waitress's server with a per-client cap on connections and a deadline for each request to arrive."""

    channel_class = GuardedChannel

    def __init__(self, app: Flask, sock: socket.socket, settings: ServeConfig, threads: int) -> None:
        self.settings = settings
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
        if (self._refused or self._overdue) and now >= self._next_report:
            self._report()
            self._next_report = now + REPORT_INTERVAL

    def stop(self) -> None:
        """Stop :meth:`run` from another thread: the event loop closes every connection and returns."""

        def close_everything() -> None:
            for channel in list(self.active_channels.values()):
                channel.handle_close()
            self.close()

        self.trigger.pull_trigger(close_everything)
        self.task_dispatcher.shutdown()

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
        self._refused.clear()
        self._overdue = 0


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


__all__ = ["GuardedServer", "build_server", "listening_socket", "request_threads", "serve"]
