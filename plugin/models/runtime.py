"""What runs a network: ONNX Runtime (the default) or PyTorch, behind one call.

A backend holds its networks as :class:`Network` objects: named numpy inputs in, the
first output back as numpy. Everything around them (letterboxing, pooling, the bridge,
labels) is numpy and shared, so the two runtimes differ only in the forward pass, and
the vectors they give agree to a cosine of 0.9999 or better (``tests/plugin/models``).

ONNX Runtime runs the same float32 graph several times faster than PyTorch's eager mode
on a CPU (``lookalike bench embed`` measures both in one run). The graphs are exported
from the PyTorch weights once (:mod:`plugin.models.export`) and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

Runtime = Literal["onnx", "torch"]
RUNTIMES: tuple[Runtime, ...] = ("onnx", "torch")


class Network(Protocol):
    def __call__(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The network's first output for a batch of named inputs."""
        ...


class OnnxNetwork:
    """An exported graph in an ONNX Runtime session on the CPU."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # One request runs one graph at a time; parallel requests get parallel sessions' calls,
        # which ONNX Runtime allows on one session.
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep rather than spin: the node, the other requests and the
        # worker's own image handling share these cores, and spinning took their time
        # (a worker's CPU per image 31 -> 23 ms, its images/s 56 -> 70, on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = {node.name for node in self.session.get_inputs()}

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        # Tokenizers may give inputs a graph does not take (token_type_ids for a model that ignores them).
        feed = {name: value for name, value in inputs.items() if name in self.input_names}
        return self.session.run(None, feed)[0]


class TorchNetwork:
    """A PyTorch module called with tensors made from the named inputs, under inference mode."""

    def __init__(self, forward: Callable[..., Any]) -> None:
        self.forward = forward

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.forward(**{name: torch.from_numpy(value) for name, value in inputs.items()}).numpy()
