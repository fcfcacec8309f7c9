"""PyTorch weights exported once to ONNX graphs, cached under a hash of the weights and the code.

A backend on the ONNX runtime asks :func:`cached_export` for its directory of graphs. The
directory's name carries a SHA-256 of the weight files and of the code that exports them
(this module and the backend's), so new weights or a changed export make a new directory
and an unchanged one is reused by every process: the API, each worker, the tests. Several
processes may export at once on a fresh machine; each builds in a private directory and
the first to finish renames it into place, atomically.

torch is imported only to export, never when the cached graphs exist.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: ONNX opset of every export: supported by ONNX Runtime 1.16 and later.
OPSET = 17
_CHUNK = 1 << 20


def fingerprint(files: Iterable[Path]) -> str:
    """SHA-256 over the files' names and bytes, in the order given."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def cached_export(cache_dir: Path, name: str, weights: Sequence[Path], code: Sequence[Path], build: Callable[[Path], None]) -> Path:
    """The directory of *name*'s exported graphs: made by *build* the first time, then reused."""
    key = fingerprint([*weights, *code, Path(__file__)])[:16]
    target = cache_dir / f"{name}-{key}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir))
    try:
        build(scratch)
        scratch.chmod(0o755)  # mkdtemp's is private; the API and workers may run as other users
        try:
            os.rename(scratch, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def export_graph(
    module: Any,
    example: Mapping[str, Any],
    outputs: Sequence[str],
    dynamic: Mapping[str, Mapping[int, str]],
    path: Path,
) -> None:
    """Trace *module* (a ``torch.nn.Module`` called with *example*'s keywords) into an ONNX file.

    TorchScript tracing, not the dynamo exporter: it needs no extra packages and handles
    these plain convolutional and transformer graphs exactly.
    """
    import copy

    import torch

    # Tracing may run the module in training mode for a moment; a copy keeps the caller's untouched.
    module = copy.deepcopy(module).eval()
    names = list(example)
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            module,
            tuple(example[name] for name in names),
            str(path),
            input_names=names,
            output_names=list(outputs),
            dynamic_axes={key: dict(axes) for key, axes in dynamic.items()},
            opset_version=OPSET,
            dynamo=False,
        )
