"""Errors as types, so that the CLI, the API and the ingest quarantine each map them once."""

from __future__ import annotations


class LookalikeError(Exception):
    """Base of every error lookalike raises on purpose; its message is one clear sentence."""


class ConfigError(LookalikeError):
    """A configuration value from the environment is invalid."""


class EngineUnavailable(LookalikeError):
    """The OpenSearch cluster cannot be reached or does not answer in time."""


class IndexLifecycleError(LookalikeError):
    """An index or alias operation was refused by the cluster."""
