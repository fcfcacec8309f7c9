"""What every command group shares: loading the configuration, reporting a product error as
one sentence, text from elsewhere made safe for a terminal, the ingest progress bar, and the
malloc tuning of the inference commands."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from tqdm import tqdm

from engine.errors import EngineStartFailed
from plugin.config import Config
from plugin.errors import LookalikeError

F = TypeVar("F", bound=Callable[..., Any])


#: What a terminal would act on instead of showing: escape sequences (CSI such as colours,
#: OSC such as set-window-title, up to their terminator, and two-character ones), their 8-bit
#: C1 forms, and every other C0 or C1 control character but tab and newline.
_TERMINAL_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)"  # OSC, DCS, SOS, PM, APC: up to BEL or ST
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI in its 8-bit form
    r"|[\x90\x98\x9d\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)"  # the string sequences in their 8-bit forms
    r"|\x1b[ -/]*[0-~]?"  # any other escape sequence, or a lone ESC
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]",
    re.DOTALL,
)


def printable(text: object, *, one_line: bool = False) -> str:
    """*text* without the control characters and escape sequences a terminal would act on.

    For everything the command line prints that came from a catalogue or a remote server
    (titles, ids, reasons, URLs, error messages): such text could recolour the terminal, set
    its title or hide what follows. With *one_line*, line breaks become spaces too, so one
    record cannot pass for several.
    """
    cleaned = _TERMINAL_CONTROLS.sub("", str(text))
    return " ".join(cleaned.splitlines()) if one_line else cleaned


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
            click.echo(f"Error: {printable(exc)}", err=True)  # messages quote catalogues and servers
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
def progress_bar(hint_stalls: bool, broker: str = "") -> Iterator[Callable[[dict[str, int]], None]]:
    """A progress bar fed with run summaries; optionally says when no worker seems to pick up tasks.

    A *broker* lost and found again is said in one line each.
    """
    from ingest import (
        STALL_HINT_SECONDS,  # ingest loads Celery: only the commands that ingest pay for it
    )

    with tqdm(total=0, unit="product", dynamic_ncols=True, disable=None) as bar:
        hinted = lost = False

        def show(summary: dict[str, int]) -> None:
            nonlocal hinted, lost
            bar.total = summary["total"]
            bar.update(summary["done"] - bar.n)
            if bool(summary.get("broker_lost")) != lost:
                lost = not lost
                bar.write(f"Lost the broker {broker}; reconnecting ..." if lost else f"Reconnected to the broker {broker}.")
            if hint_stalls and not hinted and summary.get("stalled_seconds", 0) >= STALL_HINT_SECONDS:
                hinted = True
                bar.write("No product finished for a while: is a worker running? Start one with 'lookalike worker'.")

        yield show


def done_line(summary: dict[str, int]) -> str:
    """The one-line outcome of an ingest run."""
    counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("indexed", "updated", "unchanged", "deleted", "quarantined"))
    return f"Done: {counts}."


def answer_ctrl_c() -> None:
    """Let Ctrl-C (SIGINT) stop this command even when it was started in the background.

    A shell starts background commands with SIGINT ignored, and Python then never turns it
    into KeyboardInterrupt: a demo or API started from a script would not stop on SIGINT.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


def ensure_fast_malloc() -> None:
    """Re-run this command with glibc malloc tuned for batched inference, unless already tuned.

    With the default settings, batched CPU inference spends much of its time in page faults
    as large buffers are mapped and unmapped on every batch (measured: ~2x slower).
    """
    if os.environ.get("MALLOC_MMAP_MAX_") is None and sys.platform.startswith("linux"):
        env = dict(os.environ, MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="100000000000")
        os.execve(sys.argv[0], sys.argv, env)
