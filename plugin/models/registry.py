"""The configured model by name: ``offline`` (the packaged default) or ``clip:<checkpoint>``.

The backends are imported only when one is loaded: torch and transformers take seconds to
import, and creating an index or serving a search page needs neither.
"""

from __future__ import annotations

import os
import threading

from plugin.errors import ConfigError
from plugin.models.base import OFFLINE_DEFAULT, EmbeddingBackend, EmbeddingSpec


def configure_threads(requested: int) -> int:
    """Set torch's intra-op threads: *requested*, or one per core this process may use."""
    import torch

    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = requested or available
    torch.set_num_threads(threads)
    return threads


_loaded: dict[str, EmbeddingBackend] = {}
_load_lock = threading.Lock()


def load_backend(model: str, threads: int = 0) -> EmbeddingBackend:
    """Return the backend that *model* names, loading it once per process.

    *threads* is torch's intra-op thread count; 0 means one per available core.
    """
    with _load_lock:
        if model not in _loaded:
            parse_model(model)  # refuse a bad name before touching torch's threads
            configure_threads(threads)
            _loaded[model] = _load(model)
        return _loaded[model]


def parse_model(model: str) -> tuple[str, str]:
    """``offline`` or ``clip:<checkpoint>`` as (kind, checkpoint)."""
    if model == "offline":
        return "offline", ""
    if model.startswith("clip:") and len(model) > 5:
        return "clip", model[5:]
    raise ConfigError(f"LOOKALIKE_MODEL must be 'offline' or 'clip:<checkpoint id or directory>', got {model!r}")


def _load(model: str) -> EmbeddingBackend:
    kind, checkpoint = parse_model(model)
    if kind == "offline":
        from plugin.models.offline import OfflineBackend

        return OfflineBackend()
    from plugin.models.clip import ClipBackend

    return ClipBackend(checkpoint)


def spec_for_model(model: str) -> EmbeddingSpec:
    """The identity and vector sizes of *model* without loading its weights (to create an index)."""
    kind, checkpoint = parse_model(model)
    if kind == "offline":
        return OFFLINE_DEFAULT
    from plugin.models.clip import clip_spec

    return clip_spec(checkpoint)
