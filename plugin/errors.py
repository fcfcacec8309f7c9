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


class ModelMismatch(LookalikeError):
    """An index holds vectors of another embedding model than the one in use."""


class SourceError(LookalikeError):
    """An image or catalogue source could not be turned into a usable input.

    :attr:`reason` is a stable code (for the ingest quarantine and the API's error body);
    :attr:`retryable` says whether trying again later may succeed (a timeout, a 503), as
    opposed to a fault in the input itself (a 404, a corrupt file).
    """

    reason = "source_error"
    retryable = False

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class UnsupportedSource(SourceError):
    reason = "unsupported_source"


class UnsafeURL(SourceError):
    """The URL resolves to a loopback, private, link-local or otherwise non-public address."""

    reason = "unsafe_url"


class PathNotAllowed(SourceError):
    """A local file outside the configured image roots."""

    reason = "path_not_allowed"


class SourceNotFound(SourceError):
    reason = "not_found"


class FetchFailed(SourceError):
    """The network or the remote server failed; worth retrying later."""

    reason = "fetch_failed"
    retryable = True


class FetchRefused(SourceError):
    """The remote server answered with an error that retrying will not fix (4xx)."""

    reason = "fetch_refused"


class TooManyRedirects(SourceError):
    reason = "too_many_redirects"


class ImageTooLarge(SourceError):
    """Too many bytes to download, or too many pixels to decode safely."""

    reason = "image_too_large"


class NotAnImage(SourceError):
    """The bytes are not in an image format lookalike decodes."""

    reason = "not_an_image"


class CorruptImage(SourceError):
    """The bytes claim to be an image but cannot be decoded."""

    reason = "corrupt_image"


class ImageTooSmall(SourceError):
    """Too few pixels to carry anything worth embedding."""

    reason = "image_too_small"
