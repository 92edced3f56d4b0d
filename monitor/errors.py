"""Errors the monitor package raises; the CLI turns them into one-line messages."""

from enum import StrEnum

from classifier.errors import ClassifierError
from reports.errors import ReportError
from storage.errors import StorageError


class MonitorError(Exception):
    """Base of every error the monitor package raises on purpose."""


class ConfigError(MonitorError):
    """The configuration file is missing, unreadable or invalid."""


class SourceError(MonitorError):
    """A source could not be polled (network, HTTP status, malformed feed)."""

    def __init__(self, message: str, reason: str = "error"):
        super().__init__(message)
        self.reason = reason


class FetchReason(StrEnum):
    """Why a photo (or a page) could not be fetched; stored as its value in fetch_failures.reason."""

    ERROR = "error"  # something unexpected inside a source
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    RETRIES_EXHAUSTED = "retries_exhausted"
    REQUEST_ERROR = "request_error"
    DNS_ERROR = "dns_error"
    READ_ERROR = "read_error"
    INTERRUPTED = "interrupted"  # the process was asked to stop mid-request
    HTTP_408 = "http_408"
    HTTP_425 = "http_425"
    HTTP_429 = "http_429"
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    HTTP_504 = "http_504"
    BAD_URL = "bad_url"
    BAD_SCHEME = "bad_scheme"
    PRIVATE_ADDRESS = "private_address"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_CONTENT_TYPE = "bad_content_type"
    TOO_LARGE = "too_large"
    FILE_MISSING = "file_missing"
    NOT_A_FILE = "not_a_file"  # a FIFO, device, socket or folder where a photo was expected
    OUTSIDE_FOLDER = "outside_folder"  # a symlink out of a watched folder
    UNREADABLE = "unreadable"  # the source cannot read photos at all

    @staticmethod
    def http(status: int) -> str:
        """The reason for an HTTP error status (`http_404`); any status is a valid reason."""
        return f"http_{status}"


# Reasons that may pass: worth fetching again on a later poll (see ingest.refetch_*); any other reason,
# including an HTTP status not named here, is final.
RETRYABLE_FETCH_REASONS: frozenset[str] = frozenset(
    r.value
    for r in (
        FetchReason.ERROR,
        FetchReason.TIMEOUT,
        FetchReason.CONNECTION_ERROR,
        FetchReason.RETRIES_EXHAUSTED,
        FetchReason.REQUEST_ERROR,
        FetchReason.DNS_ERROR,
        FetchReason.READ_ERROR,
        FetchReason.INTERRUPTED,
        FetchReason.HTTP_408,
        FetchReason.HTTP_425,
        FetchReason.HTTP_429,
        FetchReason.HTTP_500,
        FetchReason.HTTP_502,
        FetchReason.HTTP_503,
        FetchReason.HTTP_504,
    )
)


def is_retryable(reason: str) -> bool:
    """Whether a fetch failure with this reason is worth another try later."""
    return str(reason) in RETRYABLE_FETCH_REASONS


class FetchError(MonitorError):
    """A photo could not be fetched (timeout, size limit, content type, address policy)."""

    def __init__(self, message: str, reason: str = FetchReason.ERROR):
        super().__init__(message)
        self.reason = str(reason)  # a plain str, so it stores and serialises as the value


class ImageRejected(MonitorError):
    """A photo was fetched but cannot be used; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def user_error_types() -> tuple[type[Exception], ...]:
    """Every package's error base, so the CLI can report them without a traceback."""
    return (MonitorError, ClassifierError, StorageError, ReportError)
