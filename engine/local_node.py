"""Build, start, stop and inspect one local OpenSearch node (:mod:`engine.local_cluster` runs several).

OpenSearch 2.19.1 and its k-NN, Painless, analysis-common and netty4 plugins are resolved
from Maven Central by ``engine/pom.xml`` and run as one embedded node by
``dev.lookalike.engine.LocalNode`` (see its Javadoc for why). This module is the only code
that knows the node is local: it manages the process, its data and logs, and waits until
the cluster answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import EngineBuildFailed, EngineError, EngineStartFailed, PortInUse
from engine.java import find_java
from engine.processes import die_with_parent, is_alive
from plugin.config import EngineConfig

ENGINE_DIR = Path(__file__).resolve().parent
MAIN_CLASS = "dev.lookalike.engine.LocalNode"
LOG_TAIL_LINES = 40


@dataclasses.dataclass(frozen=True)
class NodeStatus:
    running: bool
    url: str
    pid: int | None = None
    version: str | None = None
    health: str | None = None
    plugins: tuple[str, ...] = ()


class LocalNode:
    """One local OpenSearch node whose data, logs and pid file live under ``config.home``.

    Alone it is a single-node cluster. Given ``cluster``, the transport ports and names of
    every member (itself included), it discovers them and they elect a cluster manager.
    """

    def __init__(self, config: EngineConfig, *, name: str = "lookalike-local", cluster: tuple[tuple[str, int], ...] = ()) -> None:
        self.config = config
        self.name = name
        self.cluster = cluster
        self.home = config.home
        self.data_dir = config.home / "data"
        self.logs_dir = config.home / "logs"
        self.log_file = self.logs_dir / "node.log"
        self.pid_file = config.home / "node.pid"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}"

    # -- build -----------------------------------------------------------------------------

    def is_built(self) -> bool:
        stamp = self.config.build_dir / ".lookalike-build"
        return stamp.is_file() and stamp.read_text() == _sources_digest()

    def build(self) -> None:
        """Resolve OpenSearch from Maven Central and compile the launcher, unless already done.

        Maven caches the jars in ``~/.m2``, so only the first build needs the network.
        """
        if self.is_built():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise EngineBuildFailed(
                "Maven (mvn) is needed once to fetch OpenSearch from Maven Central; install it (apt-get install maven)."
            )
        result = subprocess.run(
            [mvn, "-B", "-q", "package"],
            cwd=ENGINE_DIR,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise EngineBuildFailed(f"The Maven build of the local node failed (exit {result.returncode}):\n{tail}")
        (self.config.build_dir / ".lookalike-build").write_text(_sources_digest())

    # -- run -------------------------------------------------------------------------------

    def start(self, *, die_with_caller: bool = False) -> str:
        """Start the node in the background, wait until the cluster is yellow or green, return its URL.

        Idempotent: if this node already runs, return its URL at once. Two starts at the
        same time are serialised by a lock file, so they cannot both launch a node.
        ``die_with_caller``: SIGTERM the node when its starter dies (Linux), so killed test runs leave no node behind.
        """
        with self.lock():
            self.wait_healthy(self.launch(die_with_caller=die_with_caller))
            return self.url

    def launch(self, *, die_with_caller: bool = False) -> subprocess.Popen[bytes] | None:
        """Start the node's process unless it runs already, without waiting: a cluster's members
        must all be up before any of them can elect a manager. None if it was running.

        The caller holds :meth:`lock`.
        """
        if self.running_pid() is not None:
            return None
        java = find_java()
        self._check_port_free(self.config.http_port, "HTTP", "LOOKALIKE_ENGINE_PORT")
        self._check_port_free(self.config.transport_port, "transport", "LOOKALIKE_ENGINE_TRANSPORT_PORT")
        self.build()
        for directory in (self.data_dir, self.logs_dir, self.home / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        if self.log_file.exists():
            self.log_file.replace(self.log_file.with_suffix(".log.1"))
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                self._command(java),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home,
                start_new_session=True,  # the node outlives the command that started it...
                # ...unless asked otherwise (test runs), see _die_with_parent.
                preexec_fn=die_with_parent(os.getpid()) if die_with_caller and sys.platform == "linux" else None,
            )
        self.pid_file.write_text(str(process.pid))
        return process

    def wait_healthy(self, process: subprocess.Popen[bytes] | None) -> None:
        """Wait until the node answers with a yellow or green cluster; a node that fails to is stopped."""
        pid = process.pid if process is not None else self.running_pid()
        if pid is None:
            raise EngineStartFailed(f"The OpenSearch node {self.name} is not running.", self.log_tail())
        try:
            self._wait_healthy(process=process, pid=pid)
        except EngineStartFailed:
            if process is not None:
                self._terminate(process.pid, timeout=10)
                self.pid_file.unlink(missing_ok=True)
            raise

    def kill(self) -> int | None:
        """SIGKILL the node, as a crash or a lost machine would stop it; its pid, or None if it was not running."""
        pid = self.running_pid()
        if pid is None:
            return None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return pid

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialises starts and stops of this node across processes (a lock file in its home)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "node.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def stop(self, timeout: float = 60.0) -> bool:
        """Shut the node down cleanly (SIGTERM, so it flushes); return False if it was not running."""
        with self.lock():
            pid = self.running_pid()
            if pid is None:
                self.pid_file.unlink(missing_ok=True)
                return False
            self._terminate(pid, timeout)
            self.pid_file.unlink(missing_ok=True)
            return True

    def status(self) -> NodeStatus:
        """Say whether the node runs and, if it answers, its version, health and plugins."""
        pid = self.running_pid()
        if pid is None:
            return NodeStatus(running=False, url=self.url)
        try:
            root = get_json(f"{self.url}/")
            health = get_json(f"{self.url}/_cluster/health")
            plugins = get_json(f"{self.url}/_cat/plugins?format=json")
        except (OSError, ValueError):
            return NodeStatus(running=True, url=self.url, pid=pid)
        return NodeStatus(
            running=True,
            url=self.url,
            pid=pid,
            version=root.get("version", {}).get("number"),
            health=health.get("status"),
            plugins=tuple(sorted({p["component"] for p in plugins})),
        )

    def running_pid(self) -> int | None:
        """The pid of this node's process if it is alive, else None (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_our_node(pid, self.home) else None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log written)"

    # -- internals -------------------------------------------------------------------------

    def _command(self, java: str) -> list[str]:
        build = self.config.build_dir
        classpath = os.pathsep.join([str(build / "classes"), str(build / "lib" / "*"), str(build / "knn" / "*")])
        settings = {
            "path.home": str(self.home),
            "path.data": str(self.data_dir),
            "path.logs": str(self.logs_dir),
            "cluster.name": "lookalike",
            "node.name": self.name,
            "network.host": "127.0.0.1",
            "http.port": str(self.config.http_port),
            "transport.port": str(self.config.transport_port),
            # Small development disks would otherwise turn every index read-only.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
        }
        if self.cluster:
            settings["discovery.seed_hosts"] = ",".join(f"127.0.0.1:{port}" for _, port in self.cluster)
            # Read only when the cluster first forms; its members keep the elected state after.
            settings["cluster.initial_cluster_manager_nodes"] = ",".join(name for name, _ in self.cluster)
        else:
            settings["discovery.type"] = "single-node"
        for pair in self.config.extra_settings:
            key, _, value = pair.partition("=")
            settings[key] = value
        return [
            java,
            f"-Xms{self.config.heap}",
            f"-Xmx{self.config.heap}",
            "-XX:+UseG1GC",
            # Each node sizes its thread pools by the cores it sees; several on one machine share them.
            *([f"-XX:ActiveProcessorCount={max(1, (os.cpu_count() or 1) // len(self.cluster))}"] if len(self.cluster) > 1 else []),
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            "-Dfile.encoding=UTF-8",
            "-Dlog4j2.formatMsgNoLookups=true",
            f"-Djava.io.tmpdir={self.home / 'tmp'}",
            "-cp",
            classpath,
            MAIN_CLASS,
            *[f"-E{key}={value}" for key, value in settings.items()],
        ]

    def _check_port_free(self, port: int, role: str, variable: str) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # SO_REUSEADDR: a port left in TIME_WAIT by our own last run is free to reuse.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise PortInUse(
                    f"Port {port} (the node's {role} port) is already in use by another process; "
                    f"stop it or choose another port with {variable}."
                ) from None

    def _wait_healthy(self, process: subprocess.Popen[bytes] | None, pid: int) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise EngineStartFailed(
                    f"The OpenSearch node exited with code {process.returncode} while starting; "
                    f"the end of its log ({self.log_file}) follows.",
                    self.log_tail(),
                )
            if process is None and not _is_our_node(pid, self.home):
                raise EngineStartFailed("The OpenSearch node stopped while starting.", self.log_tail())
            try:
                health = get_json(f"{self.url}/_cluster/health")
                if health.get("status") in ("green", "yellow"):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        raise EngineStartFailed(
            f"The OpenSearch node did not become healthy within {self.config.start_timeout:.0f} s; "
            f"the end of its log ({self.log_file}) follows.",
            self.log_tail(),
        )

    @staticmethod
    def _terminate(pid: int, timeout: float) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return
            time.sleep(0.2)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while is_alive(pid):
            if time.monotonic() > deadline:
                raise EngineError(f"The OpenSearch node (pid {pid}) did not exit even after SIGKILL.")
            time.sleep(0.1)


def _is_our_node(pid: int, home: Path) -> bool:
    """True if *pid* is a live LocalNode process for the node whose home is *home*."""
    if not is_alive(pid):
        return False
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return MAIN_CLASS.encode() in arguments and f"-Epath.home={home}".encode() in arguments


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (local URL we built)
        return json.loads(response.read())


def _sources_digest() -> str:
    """A digest of everything the Maven build reads, so a changed pom or launcher triggers a rebuild."""
    digest = hashlib.sha256()
    for path in sorted([ENGINE_DIR / "pom.xml", *(ENGINE_DIR / "src").rglob("*")]):
        if path.is_file():
            digest.update(str(path.relative_to(ENGINE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
