"""Errors the storage package raises."""


class StorageError(Exception):
    """Base of every error the storage package raises on purpose."""


class DatabaseNotReady(StorageError):
    """The database is unreachable or its schema is not at the migrations' head."""


class InvalidCampaign(StorageError, ValueError):
    """A campaign definition that cannot be reported on (a ValueError too, so pydantic validators can raise it)."""
