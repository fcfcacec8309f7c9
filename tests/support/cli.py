"""The ``lookalike`` command as a user runs it, and free ports for the processes tests start."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from plugin.config import EngineConfig

#: The ``lookalike`` command of the environment the tests run in.
LOOKALIKE = str(Path(sys.executable).parent / "lookalike")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``lookalike`` as a user would, capturing what it prints."""
    return subprocess.run([LOOKALIKE, *args], env=env, capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_engine_config(home: Path, **overrides: object) -> EngineConfig:
    """An engine configuration on free ports under *home*, so tests never touch a user's node."""
    values: dict[str, object] = {"home": home, "http_port": free_port(), "transport_port": free_port(), "heap": "1g"}
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]
