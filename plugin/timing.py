"""How long each stage of one request took, as a W3C ``Server-Timing`` header and back.

The recorder of the current request lives in a :class:`contextvars.ContextVar`, so the core
times its stages (``with stage("signals"): ...``) without being handed anything through
every call and without knowing who reads the figures: the API opens one recorder per
request and writes the header (browsers' developer tools show it), a script or benchmark
opens its own with :func:`recording`, and with none open a stage costs one variable read.
Each thread (each request of a threaded server) sees only its own recorder.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: A metric name is an HTTP token (RFC 9110): what may stand before ``;dur=`` unquoted.
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: One ``name;dur=1.2`` entry of a header; other parameters (``desc``) are skipped when read.
ENTRY = re.compile(r"^\s*([^;,\s]+)\s*((?:;[^,]*)?)$")
DURATION = re.compile(r";\s*dur\s*=\s*\"?([0-9.eE+-]+)\"?")


class StageTimings:
    """Milliseconds per named stage, in the order the stages first ran.

    A stage that runs more than once in a request adds up under its one name: the header
    answers "where did the time go", not "how often".
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stages: dict[str, float] = {}

    def add(self, name: str, milliseconds: float) -> None:
        if not TOKEN.match(name):
            raise ValueError(f"a stage name must be an HTTP token, not {name!r}")
        self.stages[name] = self.stages.get(name, 0.0) + milliseconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as *name*; the time counts even when the block raises (a failed request still took it)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - started) * 1000)

    def elapsed_ms(self) -> float:
        """Milliseconds since the recorder was made: the request's total so far."""
        return (time.perf_counter() - self.started) * 1000

    def header(self, total: bool = True) -> str:
        """The ``Server-Timing`` value: every stage, then (with *total*) the time since the recorder was made."""
        entries = dict(self.stages)
        if total:
            entries["total"] = self.elapsed_ms()
        return ", ".join(f"{name};dur={milliseconds:.2f}" for name, milliseconds in entries.items())


_current: contextvars.ContextVar[StageTimings | None] = contextvars.ContextVar("lookalike_stage_timings", default=None)


def current() -> StageTimings | None:
    """The recorder open in this context, or None."""
    return _current.get()


def start() -> contextvars.Token[StageTimings | None]:
    """Open a new recorder for this context; hand the token to :func:`finish`.

    For frameworks whose hooks open and close a request in separate calls (Flask's
    ``before_request`` and ``teardown_request``); elsewhere use :func:`recording`.
    """
    return _current.set(StageTimings())


def finish(token: contextvars.Token[StageTimings | None]) -> None:
    """Close the recorder that :func:`start` opened, restoring the one before it."""
    _current.reset(token)


@contextmanager
def recording() -> Iterator[StageTimings]:
    """Open a recorder for the block and yield it: the stages the block runs land in it."""
    timings = StageTimings()
    token = _current.set(timings)
    try:
        yield timings
    finally:
        _current.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as *name* in the open recorder; without one, run it untimed."""
    timings = _current.get()
    if timings is None:
        yield
        return
    with timings.stage(name):
        yield


def parse_header(value: str) -> dict[str, float]:
    """The durations (milliseconds) of a ``Server-Timing`` value by name; entries without ``dur`` are left out.

    Repeated names add up, as :class:`StageTimings` records them. Entries are split at
    commas, so a quoted ``desc`` holding a comma is misread: this API writes none.
    """
    out: dict[str, float] = {}
    for entry in value.split(","):
        match = ENTRY.match(entry)
        if not match:
            continue
        duration = DURATION.search(match.group(2))
        if duration:
            out[match.group(1)] = out.get(match.group(1), 0.0) + float(duration.group(1))
    return out
