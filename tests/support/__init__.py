"""Helpers the tests share: real processes, images, catalogues and specs.

Fixtures live in the ``conftest.py`` files; everything a test imports by name lives here,
so no test module imports from a conftest.
"""
