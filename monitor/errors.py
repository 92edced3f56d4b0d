"""Errors the monitor package raises; the CLI turns them into one-line messages."""


class MonitorError(Exception):
    """Base of every error the monitor package raises on purpose."""


class ConfigError(MonitorError):
    """The configuration file is missing, unreadable or invalid."""


class SourceError(MonitorError):
    """A source could not be polled (network, HTTP status, malformed feed)."""

    def __init__(self, message: str, reason: str = "error"):
        super().__init__(message)
        self.reason = reason


class FetchError(MonitorError):
    """A photo could not be fetched (timeout, size limit, content type, address policy)."""

    def __init__(self, message: str, reason: str = "error"):
        super().__init__(message)
        self.reason = reason


class ImageRejected(MonitorError):
    """A photo was fetched but cannot be used; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def user_error_types() -> tuple[type[Exception], ...]:
    """Every package's error base, so the CLI can report them without a traceback."""
    from classifier.errors import ClassifierError
    from reports.errors import ReportError
    from storage.errors import StorageError

    return (MonitorError, ClassifierError, StorageError, ReportError)
