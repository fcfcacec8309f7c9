"""The simulated shoppers the recommendations evaluation replays: seeded, and shaped as its docstring says."""

from __future__ import annotations

import datetime as dt

import numpy as np

from evaluation.recommendations import SESSIONS, Catalogue, simulate

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.timezone.utc)


def _catalogue() -> Catalogue:
    """40 products in 4 categories whose photos cluster by category."""
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:4]
    vectors = np.asarray([centres[n % 4] + rng.normal(0, 0.1, 8) for n in range(40)], np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{n:02d}" for n in range(40)]
    return Catalogue(ids, [f"Fashion > C{n % 4}" for n in range(40)], vectors, {p: f"{p}.png" for p in ids})


def test_the_same_seed_simulates_the_same_shoppers_and_another_seed_others() -> None:
    catalogue = _catalogue()

    first = simulate(catalogue, 20, np.random.default_rng(3), NOW)
    again = simulate(catalogue, 20, np.random.default_rng(3), NOW)
    other = simulate(catalogue, 20, np.random.default_rng(4), NOW)

    assert [s.events for s in first] == [s.events for s in again]
    assert [s.events for s in first] != [s.events for s in other]


def test_each_shopper_makes_sessions_two_days_apart_each_touching_a_preferred_category() -> None:
    catalogue = _catalogue()
    category = dict(zip(catalogue.ids, catalogue.categories))

    shoppers = simulate(catalogue, 30, np.random.default_rng(0), NOW)

    for shopper in shoppers:
        sessions: dict[str, list[dict[str, str]]] = {}
        for event in shopper.events:
            sessions.setdefault(event["session"], []).append(event)
            assert event["type"] in {"view", "add_to_cart"}
            assert dt.datetime.fromisoformat(event["at"]) < NOW
        assert len(sessions) == SESSIONS
        assert len(set(shopper.preferred)) == 2
        for events in sessions.values():
            assert any(category[e["product_id"]] in shopper.preferred for e in events)
        starts = sorted(dt.datetime.fromisoformat(events[0]["at"]) for events in sessions.values())
        assert all(later - earlier > dt.timedelta(days=1) for earlier, later in zip(starts, starts[1:]))
