"""What every command group shares: loading the configuration, reporting a product error as
one sentence, the ingest progress bar, and the malloc tuning of the inference commands."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from tqdm import tqdm

from engine.errors import EngineStartFailed
from plugin.config import Config
from plugin.errors import LookalikeError

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn a :class:`~plugin.errors.LookalikeError` into ``Error: ...`` on stderr and exit 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EngineStartFailed as exc:
            click.echo(f"Error: {exc}", err=True)
            click.echo(exc.log_tail, err=True)
            sys.exit(1)
        except LookalikeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def load_config() -> Config:
    """The configuration from the environment; a bad setting ends the command with one sentence."""
    try:
        return Config.from_env()
    except LookalikeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


@contextlib.contextmanager
def progress_bar(hint_stalls: bool) -> Iterator[Callable[[dict[str, int]], None]]:
    """A progress bar fed with run summaries; optionally says when no worker seems to pick up tasks."""
    from ingest import (
        STALL_HINT_SECONDS,  # ingest loads Celery: only the commands that ingest pay for it
    )

    with tqdm(total=0, unit="product", dynamic_ncols=True, disable=None) as bar:
        hinted = False

        def show(summary: dict[str, int]) -> None:
            nonlocal hinted
            bar.total = summary["total"]
            bar.update(summary["done"] - bar.n)
            if hint_stalls and not hinted and summary.get("stalled_seconds", 0) >= STALL_HINT_SECONDS:
                hinted = True
                bar.write("No product finished for a while: is a worker running? Start one with 'lookalike worker'.")

        yield show


def done_line(summary: dict[str, int]) -> str:
    """The one-line outcome of an ingest run."""
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("indexed", "updated", "unchanged", "deleted", "quarantined"))
    return f"Done: {counts}."


def ensure_fast_malloc() -> None:
    """Re-run this command with glibc malloc tuned for batched inference, unless already tuned.

    With the default settings, batched CPU inference spends much of its time in page faults
    as large buffers are mapped and unmapped on every batch (measured: ~2x slower).
    """
    if os.environ.get("MALLOC_MMAP_MAX_") is None and sys.platform.startswith("linux"):
        env = dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="100000000000")
        os.execve(sys.argv[0], sys.argv, env)
