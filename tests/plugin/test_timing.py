"""Stage timings (``plugin/timing.py``): what is recorded where, and the ``Server-Timing`` header it makes."""

from __future__ import annotations

import re
import threading
import time

import pytest

from plugin import timing
from plugin.timing import StageTimings, parse_header, recording, stage

#: One entry of the header as the W3C grammar has it: a token, then ``;dur=`` and a number.
ENTRY = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+;dur=\d+(\.\d+)?$")


def test_stages_are_recorded_in_the_order_they_ran_and_a_repeated_stage_adds_up() -> None:
    with recording() as timings:
        with stage("embed"):
            time.sleep(0.002)
        with stage("signals"):
            pass
        with stage("embed"):
            time.sleep(0.002)

    assert list(timings.stages) == ["embed", "signals"]
    assert timings.stages["embed"] >= 4.0


def test_the_header_lists_every_stage_then_the_total_in_the_w3c_form() -> None:
    timings = StageTimings()
    timings.add("decode", 1.234)
    timings.add("signals", 6.0)

    header = timings.header()

    entries = header.split(", ")
    assert [entry.split(";")[0] for entry in entries] == ["decode", "signals", "total"]
    assert all(ENTRY.match(entry) for entry in entries)
    assert entries[0] == "decode;dur=1.23"
    assert parse_header(header)["total"] >= 0
    assert "total" not in parse_header(timings.header(total=False))


def test_a_stage_that_raises_still_counts_its_time() -> None:
    with recording() as timings, pytest.raises(ValueError), stage("fetch"):
        raise ValueError("the photo's server answered 500")

    assert "fetch" in timings.stages


def test_without_a_recorder_a_stage_runs_untimed() -> None:
    assert timing.current() is None
    with stage("signals"):
        ran = True

    assert ran and timing.current() is None


def test_a_recorder_is_closed_after_its_block_and_the_outer_one_is_back() -> None:
    with recording() as outer:
        with recording() as inner, stage("page"):
            pass
        with stage("fusion"):
            pass

    assert list(inner.stages) == ["page"] and list(outer.stages) == ["fusion"]
    assert timing.current() is None


def test_each_thread_records_into_its_own_recorder() -> None:
    seen: dict[str, list[str]] = {}

    def request(name: str) -> None:
        with recording() as timings:
            with stage(name):
                time.sleep(0.01)  # both threads are inside their stage at once
            seen[name] = list(timings.stages)

    threads = [threading.Thread(target=request, args=(name,)) for name in ("photo", "text")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == {"photo": ["photo"], "text": ["text"]}


def test_a_stage_name_must_be_a_token() -> None:
    with pytest.raises(ValueError, match="token"):
        StageTimings().add("page fetch", 1.0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("db;dur=53, app;dur=47.2", {"db": 53.0, "app": 47.2}),
        ('cache;desc="Cache Read";dur=23.2', {"cache": 23.2}),
        ("miss, db;dur=53", {"db": 53.0}),  # no duration: left out
        ("embed;dur=1, embed;dur=2.5", {"embed": 3.5}),
        ("", {}),
    ],
)
def test_a_header_is_read_back_as_durations_by_name(header: str, expected: dict[str, float]) -> None:
    assert parse_header(header) == expected
