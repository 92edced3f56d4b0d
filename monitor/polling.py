"""One pass over one source (its new refs, then its earlier passing failures), and the backoff after failures."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.batch import BatchCounts
from monitor.config import IngestSettings, SourceSettings
from monitor.errors import RETRYABLE_FETCH_REASONS, MonitorError
from monitor.refs import decode_ref
from monitor.sources.base import ImageRef, Source, SourceContext
from monitor.sources.clean import clean_ref
from monitor.sources.registry import build_source
from storage.engine import Database
from storage.sources import consecutive_failures, due_refetches, ensure_source, get_cursor, record_poll

log = logging.getLogger("monitor.ingest")
MAX_BACKOFF = 6 * 3600.0


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after `failures` failed polls in a row: the interval doubled each time, capped."""
    return min(interval * 2 ** max(failures - 1, 0), max(MAX_BACKOFF, interval))


def utcnow() -> datetime:
    """Now, aware UTC."""
    return datetime.now(UTC)


@dataclass
class SourceSummary:
    """What one source's pass stored, skipped and rejected."""

    name: str
    new: int = 0
    duplicates: int = 0
    reposts: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    detections: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # fetch failures by reason
    batches: int = 0
    queued: int = 0  # photos written to the outbox for workers (celery executor)
    error: str | None = None  # the poll itself failed
    next_try_at: datetime | None = None  # after a failure: when to poll again (backoff)

    def add(self, counts: BatchCounts) -> None:
        """Fold one stored batch into the totals."""
        result = counts.result
        self.new += result.new
        self.duplicates += result.duplicates + counts.known
        self.reposts += result.reposts
        for reason, count in result.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + count
        for brand, count in result.detections.items():
            self.detections[brand] = self.detections.get(brand, 0) + count
        for failure in counts.failures:
            self.failures[failure.reason] = self.failures.get(failure.reason, 0) + 1
        if result.unstored:  # photos the database refused (storage.writes.UNSTORABLE)
            self.failures["unstorable"] = self.failures.get("unstorable", 0) + len(result.unstored)
        self.batches += 1


Drain = Callable[[Source, int, dict[str, Any] | None, SourceSummary], None]


def polled_refs(
    db: Database, source: Source, source_id: int, cursor: dict[str, Any] | None, ingest: IngestSettings
) -> Iterable[ImageRef]:
    """The source's new refs after `cursor`, then its earlier fetch failures that are due another try.

    Every ref passes `clean_ref` here, the one boundary between what a source says and what is stored. The
    retried refs carry no cursor, so storing them never moves the source's cursor."""
    for ref in source.poll(cursor):
        yield clean_ref(ref, utcnow(), source.name, source.settings.allow_null_island)
    due = due_refetches(db, source_id, RETRYABLE_FETCH_REASONS, ingest.refetch_attempts, ingest.refetch_after)
    if due:
        log.info("fetching %d photo(s) again that failed earlier for a passing reason", len(due))
    for ref in due:
        yield clean_ref(decode_ref(ref), utcnow(), source.name, source.settings.allow_null_island)


def poll_source(db: Database, source_settings: SourceSettings, context: SourceContext, drain: Drain) -> SourceSummary:
    """One pass over a source through `drain(source, source_id, cursor, summary)`; a failing poll is
    recorded with its backoff and returned, never raised."""
    summary = SourceSummary(source_settings.name)
    source_id = ensure_source(db, source_settings.name, source_settings.kind)
    source: Source | None = None
    try:
        source = build_source(source_settings, context)
        drain(source, source_id, get_cursor(db, source_id), summary)
    except MonitorError as exc:
        summary.error = str(exc)
    except Exception as exc:  # a bug or an outage in one source must not stop the others
        log.exception("poll %s crashed", source_settings.name)
        summary.error = f"{type(exc).__name__}: {exc}"
    finally:
        if source is not None:
            source.close()
    if summary.error and context.stop is not None and context.stop.is_set():
        log.info("poll %s cut short by a stop request: %s", source_settings.name, summary.error)
        summary.error = None  # not the source's failure: no backoff; the next run polls it again
        return summary
    if summary.error:
        failures = consecutive_failures(db, source_id) + 1
        next_try = utcnow() + timedelta(seconds=backoff(source_settings.interval, failures))
        summary.next_try_at = next_try
        record_poll(db, source_id, ok=False, error=summary.error, next_try_at=next_try)
        log.warning(
            "poll %s failed (%d in a row, next try %s): %s",
            source_settings.name,
            failures,
            next_try.isoformat(timespec="seconds"),
            summary.error,
        )
        return summary
    warning = "; ".join(source.warnings) if source is not None and source.warnings else None  # shown by status
    record_poll(
        db, source_id, ok=True, warning=warning, next_try_at=utcnow() + timedelta(seconds=source_settings.interval)
    )
    return summary
