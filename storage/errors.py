"""Errors the storage package raises."""


class StorageError(Exception):
    """Base of every error the storage package raises on purpose."""


class DatabaseNotReady(StorageError):
    """The database is unreachable or its schema is not at the migrations' head."""
