"""Each package of the core lists its public names, and each resolves, without loading its siblings first."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import pytest

PACKAGES = ["plugin", "plugin.catalogue", "plugin.images", "plugin.models", "plugin.opensearch", "plugin.search"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_to_its_module(package: str) -> None:
    module = importlib.import_module(package)

    for name in module.__all__:
        found = getattr(module, name)
        assert getattr(importlib.import_module(module._EXPORTS[name]), name) is found


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'plugin.search' has no attribute 'Serch'"):
        importlib.import_module("plugin.search").Serch  # noqa: B018


def test_importing_the_configuration_loads_neither_opensearch_nor_pydantic() -> None:
    # Every command imports the configuration; the packages' public names must not drag the rest in.
    code = "import sys, plugin.config; print(sorted(m for m in ('opensearchpy', 'pydantic', 'plugin.search') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    assert loaded == "[]"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_public_name_is_shadowed_by_a_subpackage(package: str) -> None:
    # Importing plugin.x sets the attribute x on plugin, which a lazily exported name x would lose to.
    module = importlib.import_module(package)
    clashes = [name for name in module.__all__ if importlib.util.find_spec(f"{package}.{name}") is not None]
    assert clashes == []
