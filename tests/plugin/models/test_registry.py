"""Models by name: parsing LOOKALIKE_MODEL, their specs without weights, and one backend per model per process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from plugin.config import Config
from plugin.errors import ConfigError
from plugin.models.base import OFFLINE_DEFAULT
from plugin.models.registry import (
    backend_for,
    configure_threads,
    load_backend,
    parse_model,
    spec_for_model,
)


@pytest.fixture
def torch_threads() -> Iterator[None]:
    """Restores torch's thread count, which is global to the process."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_model_is_offline_or_a_clip_checkpoint() -> None:
    assert parse_model("offline") == ("offline", "")
    assert parse_model("clip:openai/clip-vit-base-patch32") == ("clip", "openai/clip-vit-base-patch32")
    assert parse_model("clip:/models/my clip") == ("clip", "/models/my clip")


@pytest.mark.parametrize("model", ["", "clip:", "clip", "Offline", "bert:base", "openai/clip-vit-base-patch32"])
def test_anything_else_is_refused_naming_the_variable(model: str, torch_threads: None) -> None:
    with pytest.raises(ConfigError, match=f"LOOKALIKE_MODEL must be 'offline' or 'clip:<checkpoint id or directory>', got {model!r}"):
        parse_model(model)
    with pytest.raises(ConfigError):
        spec_for_model(model)
    with pytest.raises(ConfigError):
        load_backend(model)


def test_the_offline_spec_is_known_without_loading_anything() -> None:
    assert spec_for_model("offline") == OFFLINE_DEFAULT
    assert (OFFLINE_DEFAULT.image_dims, OFFLINE_DEFAULT.text_dims, OFFLINE_DEFAULT.shared_space) == (1280, 384, False)


def test_a_clip_spec_is_read_from_the_checkpoints_configuration(tiny_clip: Path) -> None:
    spec = spec_for_model(f"clip:{tiny_clip}")

    assert spec.name == f"clip:{tiny_clip}"
    assert (spec.image_dims, spec.text_dims, spec.shared_space) == (16, 16, True)


def test_a_backend_is_loaded_once_per_model_and_runtime(tiny_clip: Path) -> None:
    clip = load_backend(f"clip:{tiny_clip}")
    offline = load_backend("offline")

    assert load_backend(f"clip:{tiny_clip}") is clip
    assert load_backend("offline", threads=1) is offline  # already loaded: the thread count is not applied again
    assert clip is not offline
    assert clip.spec == spec_for_model(f"clip:{tiny_clip}") and offline.spec == OFFLINE_DEFAULT
    assert load_backend("offline", runtime="torch") is not offline


def test_the_configured_runtime_is_the_one_loaded() -> None:
    config = Config.from_env({"LOOKALIKE_RUNTIME": "torch"})

    assert backend_for(config) is load_backend("offline", runtime="torch")
    assert backend_for(Config.from_env({})).runtime == "onnx"  # type: ignore[attr-defined]


def test_an_unknown_runtime_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="LOOKALIKE_RUNTIME must be one of onnx, torch; got 'tvm'"):
        load_backend("offline", runtime="tvm")  # type: ignore[arg-type]


def test_threads_are_as_requested_or_one_per_usable_core(torch_threads: None) -> None:
    assert configure_threads(2) == 2 and torch.get_num_threads() == 2
    assert configure_threads(0) == len(os.sched_getaffinity(0)) == torch.get_num_threads()
