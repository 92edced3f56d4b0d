"""Reads that say how far to trust a report: which model versions counted, fetch failures, failing sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from storage.reading import D, F, M, Reader, S, read_rows
from storage.redaction import redact_text
from storage.schema import FetchFailure, Source


def latest_model_version(db: Reader) -> int | None:
    """The newest model version id that has any detection, or None."""
    rows = read_rows(db, select(func.max(D.model_version_id).label("id")))
    return rows[0]["id"] if rows else None


def model_version(db: Reader, version_id: int) -> dict[str, Any] | None:
    """One model version's row (thresholds, metrics, backbone...), or None."""
    rows = read_rows(
        db,
        select(
            M.id, M.checksum, M.bundle_path, M.backbone, M.input_size, M.classes, M.thresholds, M.metrics, M.created_at
        ).where(M.id == version_id),
    )
    return rows[0] if rows else None


def model_versions_used(db: Reader, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Model versions with at least one detection posted in [start, end) (an index probe per version)."""
    used = select(D.id).where(D.model_version_id == M.id, D.posted_at >= start, D.posted_at < end).limit(1).exists()
    statement = (
        select(M.id, M.checksum, M.backbone, M.input_size, M.bundle_path, M.thresholds, M.created_at)
        .where(used)
        .order_by(M.id)
    )
    return read_rows(db, statement)


def source_failures(db: Reader, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Photo fetch failures last seen in [start, end) per source and reason, with their attempts and last time."""
    statement = (
        select(
            S.name.label("source"),
            F.reason.label("reason"),
            func.count().label("failures"),
            func.sum(F.attempts).label("attempts"),
            func.max(F.last_at).label("last_at"),
        )
        .select_from(FetchFailure.__table__.join(Source.__table__, S.id == F.source_id))
        .where(F.last_at >= start, F.last_at < end)
        .group_by(S.name, F.reason)
        .order_by(S.name, F.reason)
    )
    return read_rows(db, statement)


def failing_sources(db: Reader, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Sources whose last poll error falls in [start, end) or that are failing now."""
    statement = (
        select(
            S.name.label("source"),
            S.kind.label("kind"),
            S.last_error.label("last_error"),
            S.last_error_at.label("last_error_at"),
            S.consecutive_failures.label("consecutive_failures"),
            S.last_success_at.label("last_success_at"),
        )
        .where((and_(S.last_error_at >= start, S.last_error_at < end)) | (S.consecutive_failures > 0))
        .order_by(S.name)
    )
    # Errors are stored redacted; rows written before that are redacted here.
    return [{**row, "last_error": redact_text(row["last_error"])} for row in read_rows(db, statement)]
