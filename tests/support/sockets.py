"""Watching connections a test opened: when did the server close each of them."""

from __future__ import annotations

import selectors
import socket
import time


def closed_within(sockets: list[socket.socket], seconds: float) -> list[float]:
    """Seconds until the server closed each of *sockets*, waiting at most *seconds* in all."""
    started = time.monotonic()
    closed_at: list[float] = []
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while len(closed_at) < len(sockets) and (left := started + seconds - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=left):
                try:
                    data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                except ConnectionResetError:
                    data = b""
                if not data:
                    selector.unregister(key.fileobj)
                    closed_at.append(time.monotonic() - started)
    return closed_at
