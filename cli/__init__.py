"""The ``lookalike`` command line."""
