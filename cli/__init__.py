"""The ``lookalike`` command line: :mod:`cli.main` gathers one module per command group."""
