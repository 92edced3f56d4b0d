"""The outbox of the celery executor on SQLite and PostgreSQL: cursor with the batch, redelivery, giving up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from storage.batches import (
    due_batches,
    enqueue_batch,
    fail_exhausted,
    get_batch,
    mark_published,
    mark_started,
    outbox_backlog,
    record_batch_error,
)
from storage.engine import Database
from storage.schema import Batch, utcnow
from storage.sources import ensure_source, get_cursor


def _published_ago(db: Database, batch_id: int, seconds: float) -> None:
    with db.session(write=True) as session:
        session.execute(
            update(Batch).where(Batch.id == batch_id).values(published_at=utcnow() - timedelta(seconds=seconds))
        )


def test_a_batch_and_its_cursor_are_written_together(db: Database) -> None:
    source = ensure_source(db, "feed", "rss")
    batch = enqueue_batch(db, source, "ingest", [{"uri": "a"}], {"after": "a"})
    assert get_cursor(db, source) == {"after": "a"}
    assert get_batch(db, batch)["state"] == "pending" and get_batch(db, batch)["source_name"] == "feed"
    with pytest.raises(Exception, match="JSON"):
        enqueue_batch(db, source, "ingest", [{"uri": object()}], {"after": "b"})
    assert get_cursor(db, source) == {"after": "a"}  # the refused batch moved nothing


def test_redelivery_picks_unsent_and_stale_batches_and_spares_queued_ones(db: Database) -> None:
    source = ensure_source(db, "feed", "rss")
    unsent, fresh, stale, taken = (enqueue_batch(db, source, "ingest", [{"uri": str(n)}]) for n in range(4))
    mark_published(db, [fresh, stale, taken])
    _published_ago(db, stale, 600)
    _published_ago(db, taken, 600)
    mark_started(db, taken, "w1")
    assert due_batches(db, redeliver_after=300) == [unsent, stale, taken]
    # While the fetch queue still holds messages, a stale batch no worker took is presumably among them.
    assert due_batches(db, redeliver_after=300, started_only=True) == [unsent, taken]
    assert due_batches(db, redeliver_after=300, everything=True) == [unsent, fresh, stale, taken]


def test_a_batch_taken_too_often_is_failed_with_its_last_error(db: Database) -> None:
    source = ensure_source(db, "feed", "rss")
    poison, healthy = (enqueue_batch(db, source, "ingest", [{"uri": str(n)}]) for n in range(2))
    for _ in range(3):
        mark_started(db, poison, "w1")
    mark_started(db, healthy, "w1")
    record_batch_error(db, poison, "classify: ValueError: bad bytes")
    assert fail_exhausted(db, max_attempts=4) == []
    assert fail_exhausted(db, max_attempts=3) == [{"id": poison, "error": "classify: ValueError: bad bytes"}]
    assert due_batches(db, redeliver_after=0, everything=True) == [healthy]
    backlog = outbox_backlog(db)
    assert (backlog["pending"], backlog["failed"]) == (1, 1)
    assert backlog["last_failure"] == {"id": poison, "error": "classify: ValueError: bad bytes"}
