"""Every error lookalike raises on purpose, as types with a stable ``reason``.

The command line prints the message, the API maps the class to an HTTP status through one
table (``api/errors.py``), and the ingest quarantine stores the ``reason``. Nothing here
knows HTTP.
"""

from __future__ import annotations


class LookalikeError(Exception):
    """Base of every error lookalike raises on purpose; its message is one clear sentence.

    :attr:`reason` is a stable code for machines (the API's error body, the quarantine);
    :attr:`retryable` says whether trying again later may succeed.
    """

    reason = "error"
    retryable = False


class ConfigError(LookalikeError):
    """A configuration value from the environment is invalid."""

    reason = "invalid_config"


class EngineUnavailable(LookalikeError):
    """The OpenSearch cluster cannot be reached or does not answer in time."""

    reason = "search_unavailable"
    retryable = True


class EngineBusy(LookalikeError):
    """The cluster answered, but is overloaded (HTTP 429 or a 5xx from a proxy); worth retrying."""

    reason = "engine_busy"
    retryable = True


class IndexLifecycleError(LookalikeError):
    """An index or alias operation was refused by the cluster."""

    reason = "index_refused"


class ModelMismatch(LookalikeError):
    """An index holds vectors of another embedding model than the one in use."""

    reason = "model_mismatch"


class SearchFailed(LookalikeError):
    """The cluster could not run one of a search's queries."""

    reason = "search_failed"


class IndexMissing(LookalikeError):
    """The index (or the alias) a search names does not exist: no catalogue has been ingested yet."""

    reason = "no_index"


class CatalogueError(LookalikeError):
    """The catalogue as a whole cannot be read (missing file, unknown format)."""

    reason = "invalid_catalogue"


class QuarantineWriteFailed(LookalikeError):
    """Quarantine records could not be written; the cluster may be busy, so worth retrying."""

    reason = "quarantine_write_failed"
    retryable = True


class TakedownNotFound(LookalikeError):
    """No takedown, or no active one, has the id an undo named."""

    reason = "takedown_not_found"


class SavedSearchNotFound(LookalikeError):
    """The shopper has no saved search with the id a request named."""

    reason = "saved_search_not_found"


class SavedSearchLimit(LookalikeError):
    """A shopper already keeps as many saved searches as one may."""

    reason = "saved_search_limit"


class ProductNotFound(LookalikeError):
    """No product has the id a request named."""

    reason = "not_found"


class ImageNotInProduct(LookalikeError):
    """A takedown named an image the product does not have."""

    reason = "image_not_in_product"


class ProductTakenDown(LookalikeError):
    """The product has an image an operator marked as infringing: it is withheld until the takedown is undone."""

    reason = "taken_down"


class EventsNotStored(LookalikeError):
    """The cluster refused some of a batch of shopper events; the sender may send it again."""

    reason = "events_not_stored"
    retryable = True


class RelatedNotStored(LookalikeError):
    """The cluster refused part of an update of the co-occurrence counts; the task runs again."""

    reason = "related_not_stored"
    retryable = True


class BrokerUnavailable(LookalikeError):
    """The Celery broker (Redis) cannot be reached."""

    reason = "broker_unavailable"
    retryable = True


class IngestTimeout(LookalikeError):
    """Waiting for a run's products gave up; the run goes on in the background."""

    reason = "ingest_timeout"


class IncompleteIndex(LookalikeError):
    """A new index holds fewer products than were ingested, so the alias stayed where it was."""

    reason = "incomplete_index"


class PoisonTask(LookalikeError):
    """An ingest task was handed out more times than allowed, each time without finishing (its worker died)."""

    reason = "poison_task"


class RankingNotSaved(LookalikeError):
    """Ranking settings could not be stored under a new version number (others took each one first)."""

    reason = "ranking_not_saved"
    retryable = True


class RetryAlreadyRunning(LookalikeError):
    """A retry of the quarantine is already running."""

    reason = "retry_running"


class DatasetMissing(LookalikeError):
    """A prepared data set (demo catalogue, evaluation photos) is absent and cannot be fetched here."""

    reason = "dataset_missing"


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


class FetchTimedOut(FetchFailed):
    """The image did not arrive whole within the fetch's deadline (a slow or trickling server)."""

    reason = "fetch_timeout"


class TooManyFetches(LookalikeError):
    """Every slot for fetching a query photo by URL is in use; trying again in a moment may succeed."""

    reason = "too_many_fetches"
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
