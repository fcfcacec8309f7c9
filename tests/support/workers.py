"""Real ``lookalike worker`` processes for the ingest tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.cli import LOOKALIKE


class Worker:
    """A real ``lookalike worker`` process, started in its own process group so it can be killed whole."""

    def __init__(self, env: dict[str, str], log: Path, *options: str) -> None:
        self.env = env
        self.log = log
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [LOOKALIKE, "worker", "--loglevel=INFO", *self.options], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes()[offset:]:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no clean-up at all."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
