"""Errors of the local node and the local Redis: each one clear sentence, with a stable reason."""

from __future__ import annotations

from plugin.errors import LookalikeError


class EngineError(LookalikeError):
    """The local node cannot be built, started or stopped; the message says why in one sentence."""

    reason = "engine_error"


class JavaNotFound(EngineError):
    reason = "java_not_found"


class PortInUse(EngineError):
    reason = "port_in_use"


class EngineBuildFailed(EngineError):
    reason = "engine_build_failed"


class EngineStartFailed(EngineError):
    """The node process died or never turned healthy; :attr:`log_tail` holds the end of its log."""

    reason = "engine_start_failed"

    def __init__(self, message: str, log_tail: str) -> None:
        super().__init__(message)
        self.log_tail = log_tail
