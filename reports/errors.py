"""Errors the reports package raises."""


class ReportError(Exception):
    """Base of every error the reports package raises on purpose."""
