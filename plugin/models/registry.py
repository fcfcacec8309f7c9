"""The configured model by name: ``offline`` (the packaged default) or ``clip:<checkpoint>``,
run by ONNX Runtime (the default) or PyTorch.

The backends are imported only when one is loaded: torch and transformers take seconds to
import, and creating an index or serving a search page needs neither.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from plugin.errors import ConfigError
from plugin.models.base import OFFLINE_DEFAULT, EmbeddingBackend, EmbeddingSpec
from plugin.models.runtime import RUNTIMES, Runtime

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from plugin.config import Config
    from plugin.models.detector import Detector

def usable_cores() -> int:
    """The cores this process may run on (its affinity), not the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def configure_threads(requested: int) -> int:
    """Set torch's intra-op threads: *requested*, or one per core this process may use."""
    import torch

    threads = requested or usable_cores()
    torch.set_num_threads(threads)
    return threads


_loaded: dict[tuple[str, str], EmbeddingBackend] = {}
_load_lock = threading.Lock()


def backend_for(config: Config) -> EmbeddingBackend:
    """The backend *config* names, with its runtime, threads and export cache."""
    return load_backend(config.model, config.inference_threads, config.runtime, config.models_dir)  # type: ignore[arg-type]


def load_backend(model: str, threads: int = 0, runtime: Runtime = "onnx", cache_dir: Path | None = None) -> EmbeddingBackend:
    """Return the backend that *model* names on *runtime*, loading it once per process.

    *threads* is the intra-op thread count; 0 means one per available core. The ONNX
    runtime exports the PyTorch weights into *cache_dir* the first time.
    """
    with _load_lock:
        if (model, runtime) not in _loaded:
            parse_model(model)  # refuse a bad name before touching any thread settings
            if runtime not in RUNTIMES:
                raise ConfigError(f"LOOKALIKE_RUNTIME must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
            threads = threads or usable_cores()
            if runtime == "torch":
                configure_threads(threads)
            _loaded[(model, runtime)] = _load(model, runtime, threads, cache_dir or _configured_cache())
        return _loaded[(model, runtime)]


def _configured_cache() -> Path:
    from plugin.config import Config

    return Config.from_env().models_dir


def parse_model(model: str) -> tuple[str, str]:
    """``offline`` or ``clip:<checkpoint>`` as (kind, checkpoint)."""
    if model == "offline":
        return "offline", ""
    if model.startswith("clip:") and len(model) > 5:
        return "clip", model[5:]
    raise ConfigError(f"LOOKALIKE_MODEL must be 'offline' or 'clip:<checkpoint id or directory>', got {model!r}")


def _load(model: str, runtime: Runtime, threads: int, cache_dir: Path) -> EmbeddingBackend:
    kind, checkpoint = parse_model(model)
    if kind == "offline":
        from plugin.models.offline import OfflineBackend

        return OfflineBackend(runtime=runtime, threads=threads, cache_dir=cache_dir)
    from plugin.models.clip import ClipBackend

    return ClipBackend(checkpoint, runtime=runtime, threads=threads, cache_dir=cache_dir)


def spec_for_model(model: str) -> EmbeddingSpec:
    """The identity and vector sizes of *model* without loading its weights (to create an index)."""
    kind, checkpoint = parse_model(model)
    if kind == "offline":
        return OFFLINE_DEFAULT
    from plugin.models.clip import clip_spec

    return clip_spec(checkpoint)


_detectors: dict[tuple[Path, float, int], Detector] = {}


def detector_for(config: Config) -> Detector | None:
    """The configured object detector, loaded once per process; None when it has not been built.

    Searching works without it (``detect`` then falls back to the whole photo, and says so);
    ``lookalike detector build`` makes it.
    """
    from plugin.models.detector import Detector
    from plugin.models.detector_build import detector_file

    settings = config.detect
    path = settings.model_file or detector_file(settings.cache_dir, settings.size)
    if not path.is_file():
        return None
    key = (path, settings.min_score, config.inference_threads)
    with _load_lock:
        if key not in _detectors:
            try:
                _detectors[key] = Detector(
                    path, threads=config.inference_threads or usable_cores(), min_score=settings.min_score, max_boxes=max(8, settings.max_groups)
                )
            except Exception as exc:  # noqa: BLE001 - a broken or foreign file must not stop searching
                log.warning("the object detector %s cannot be loaded, photos are searched whole: %s", path, exc)
                return None
        return _detectors[key]
