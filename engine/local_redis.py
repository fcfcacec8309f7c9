"""Start, stop and inspect a local Redis server (Debian's ``redis-server``), the Celery broker.

Like the local OpenSearch node, it binds to 127.0.0.1 and keeps its files under one
directory; production uses whatever Redis ``CELERY_BROKER_URL`` names.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from engine.errors import EngineError, PortInUse
from engine.processes import is_alive


class RedisNotFound(EngineError):
    reason = "redis_not_found"


class LocalRedis:
    """One Redis server whose data, log and pid file live under *home*."""

    def __init__(self, home: Path, port: int) -> None:
        self.home = home
        self.port = port
        self.pid_file = home / "redis.pid"
        self.log_file = home / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> str:
        """Start Redis in the background (idempotent) and return its URL once it answers PING."""
        if self.is_running():
            return self.url
        server = shutil.which("redis-server")
        if server is None:
            raise RedisNotFound("redis-server is needed as the local Celery broker and was not found; install it (apt-get install redis-server).")
        if self._answers_ping():
            raise PortInUse(f"Port {self.port} already has a Redis that lookalike did not start; stop it or set LOOKALIKE_REDIS_PORT.")
        self.home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                server,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.home),
                "--daemonize", "yes",
                "--pidfile", str(self.pid_file),
                "--logfile", str(self.log_file),
                "--appendonly", "yes",  # queued tasks survive a restart
                "--save", "",
                "--protected-mode", "yes",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise EngineError(f"redis-server failed to start: {(result.stderr or result.stdout).strip()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers_ping():
                return self.url
            time.sleep(0.1)
        raise EngineError(f"Redis did not answer on port {self.port} within {timeout:.0f} s; see {self.log_file}.")

    def stop(self, timeout: float = 20.0) -> bool:
        pid = self._pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and is_alive(pid):
            time.sleep(0.1)
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def is_running(self) -> bool:
        return self._pid() is not None and self._answers_ping()

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

