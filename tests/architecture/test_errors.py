"""Every error the product raises on purpose derives from one root and carries a stable reason."""

from __future__ import annotations

import importlib
import inspect

import pytest

from plugin.errors import LookalikeError
from tests.architecture.test_imports import product_modules


def product_exceptions() -> list[type[BaseException]]:
    found = []
    for name in sorted(product_modules()):
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found.append(value)
    return found


def test_the_product_defines_its_errors() -> None:
    assert len(product_exceptions()) > 20


@pytest.mark.parametrize("error", product_exceptions(), ids=lambda e: f"{e.__module__}.{e.__qualname__}")
def test_each_error_derives_from_the_root_with_a_reason_of_its_own(error: type[BaseException]) -> None:
    assert issubclass(error, LookalikeError)
    if error is not LookalikeError:
        assert "reason" in vars(error) or error.reason != LookalikeError.reason, f"{error.__qualname__} has no reason of its own"
