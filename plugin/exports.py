"""A package's public names, imported from their modules when first used.

Importing one module of a package runs the package's ``__init__`` first; re-exporting
eagerly there would load every sibling (the search service, OpenSearch's client, pydantic
models) into every command, ``lookalike engine status`` included. With
:func:`lazy_exports` the ``__init__`` lists its public names and costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for *package* that finds each name of *exports* (name → module) on first use."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
