"""Rollups kept in the batch's transaction: equal to a rebuild from the raw rows, whatever the batches held."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from cli import run_cli
from storage import detections, model_versions, sources, writes
from storage.engine import Database, open_database
from storage.errors import StorageError
from storage.records import BatchResult, DetectionRecord, ImageRecord
from storage.rollups import rebuild_rollups, rollup_drift
from storage.schema import Detection, DetectionRollup, Image, ImageRollup

NO_DRIFT = {"detection_rollups": 0, "image_rollups": 0}


@pytest.fixture
def model(db: Database) -> int:
    return model_versions.register_model_version(
        db, "c" * 64, "/models/v1", "inception_v3", 299, ["acme", "globex"], {}
    )


def photo(n: int, phash: int | None = None, brands: tuple[str, ...] = ("acme",), **fields) -> ImageRecord:
    fields.setdefault("posted_at", datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(hours=n))
    return ImageRecord(
        sha256=hashlib.sha256(str(n).encode()).hexdigest(),
        uri=f"https://example.org/{n}.jpg",
        phash=None if phash is None else f"{phash:016x}",
        detections=[DetectionRecord(b, 0.9) for b in brands],
        **fields,
    )


def rollups(db: Database) -> dict[str, list[tuple]]:
    with db.session() as session:
        return {
            table.__tablename__: [
                tuple(row)
                for row in session.execute(select(*table.__table__.c).order_by(*table.__table__.primary_key.columns))
            ]
            for table in (DetectionRollup, ImageRollup)
        }


def drift(db: Database) -> dict[str, int]:
    with db.session() as session:
        return rollup_drift(session.connection())


def test_a_batch_counts_its_new_rows_with_sentinels_for_none(db: Database, model: int) -> None:
    source = sources.ensure_source(db, "inbox", "folder")
    late = datetime(2026, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=5)))  # 2026-03-01 20:30 UTC
    batch = [
        photo(
            1,
            0xF0F0F0F0F0F0F0F0,
            ("acme", "globex"),
            place="Paris",
            reach=100,
            latitude=48.0,
            longitude=2.0,
            posted_at=late,
        ),
        photo(2, 0xF0F0F0F0F0F0F0F3, ("acme",), posted_at=late),  # a near copy: a repost within the batch
        photo(3, brands=(), status="rejected", reject_reason="too_small", posted_at=late),
        photo(4, brands=(), status="rejected", reject_reason="", place="", posted_at=late),
    ]
    assert writes.save_batch(db, source, model, batch).reposts == 1
    day = date(2026, 3, 1)
    assert rollups(db) == {
        "detection_rollups": [
            (model, day, "acme", source, "", True, 1, 0, 0),
            (model, day, "acme", source, "Paris", False, 1, 100, 1),
            (model, day, "globex", source, "Paris", False, 1, 100, 1),
        ],
        "image_rollups": [
            (day, source, "", "accepted", "", True, 1, 0, 0, 0.0, 0.0, 0),
            (day, source, "", "rejected", "", False, 1, 0, 0, 0.0, 0.0, 0),
            (day, source, "", "rejected", "too_small", False, 1, 0, 0, 0.0, 0.0, 0),
            (day, source, "Paris", "accepted", "", False, 1, 100, 1, 48.0, 2.0, 1),
        ],
    }
    # Saved again: nothing is new, so nothing is counted twice.
    assert writes.save_batch(db, source, model, batch).new == 0
    assert drift(db) == NO_DRIFT
    with db.session() as session:  # an empty place or reason is stored as none, as the rollups read it
        assert session.execute(select(Image.place, Image.reject_reason).where(Image.uri.endswith("/4.jpg"))).one() == (
            None,
            None,
        )


def test_mixed_batches_keep_the_rollups_equal_to_a_rebuild(db: Database, model: int) -> None:
    feed, inbox = sources.ensure_source(db, "feed", "rss"), sources.ensure_source(db, "inbox", "folder")
    newer = model_versions.register_model_version(db, "d" * 64, "/models/v2", "mobilenet_v2", 224, ["acme"], {})
    first = [
        photo(
            n,
            0x1111 * (n + 1) << 20,
            ("acme", "globex")[: n % 3],
            place=(None, "Paris", "Oslo")[n % 3],
            reach=(None, 10, 2500)[n % 3],
            latitude=59.9 if n % 3 == 2 else None,
            longitude=10.7 if n % 3 == 2 else None,
        )
        for n in range(12)
    ]
    writes.save_batch(db, feed, model, first)
    # Near copies of stored photos, one of them twice in this batch, from another source; and a rejected photo.
    copies = [photo(100 + n, (0x1111 * (n + 1) << 20) ^ 0b11, ("acme",), place="Oslo", reach=7) for n in range(4)]
    copies.append(photo(120, (0x1111 * 2 << 20) ^ 0b101, ("globex",)))
    copies.append(photo(121, brands=(), status="rejected", reject_reason="truncated"))
    writes.save_batch(db, inbox, model, copies)
    writes.save_batch(db, inbox, newer, copies + first[:3])  # stored photos, detections of the newer model
    with db.session(write=True) as session:
        ids = dict(session.execute(select(Image.uri, Image.id)).all())
        found = {
            ids[f"https://example.org/{n}.jpg"]: [DetectionRecord("acme", 0.8), DetectionRecord("initech", 0.7)]
            for n in (3, 4, 100, 121)
        }
        # 100 has its acme detection of this model already; 121 is rejected.
        assert detections.save_detections_in(session, newer, found) == {"acme": 2, "initech": 3}
    assert drift(db) == NO_DRIFT
    before = rollups(db)
    with db.session(write=True) as session:
        rebuild_rollups(session.connection())
    assert rollups(db) == before


def test_save_detections_in_copies_the_photo_and_is_idempotent(db: Database, model: int) -> None:
    source = sources.ensure_source(db, "inbox", "folder")
    writes.save_batch(db, source, None, [photo(1, brands=(), place="Paris", reach=5), photo(2, brands=())])
    newer = model_versions.register_model_version(db, "e" * 64, "/models/v2", "inception_v3", 299, ["acme"], {})
    with db.session(write=True) as session:
        ids = sorted(session.scalars(select(Image.id)))
        found = {
            ids[0]: [DetectionRecord("acme", 0.9, (0.1, 0.2, 0.3, 0.4))],
            ids[1]: [DetectionRecord("acme", 0.6)],
            ids[1] + 1000: [DetectionRecord("acme", 0.9)],
        }  # no such photo: skipped
        assert detections.save_detections_in(session, newer, found) == {"acme": 2}
    with db.session(write=True) as session:
        assert detections.save_detections_in(session, newer, found) == {}
    with db.session() as session:
        rows = session.execute(
            select(
                Detection.image_id, Detection.posted_at, Detection.source_id, Detection.box_x2, Image.posted_at
            ).join(Image, Image.id == Detection.image_id)
        ).all()
    assert len(rows) == 2 and all(d_at == i_at and d_source == source for _, d_at, d_source, _, i_at in rows)
    assert rollups(db)["detection_rollups"] == [
        (newer, date(2026, 3, 1), "acme", source, "", False, 1, 0, 0),
        (newer, date(2026, 3, 1), "acme", source, "Paris", False, 1, 5, 1),
    ]
    with pytest.raises(StorageError, match="model version"):
        with db.session(write=True) as session:
            detections.save_detections_in(session, None, found)


def test_a_failed_batch_leaves_the_rollups_untouched(db: Database, model: int) -> None:
    source = sources.ensure_source(db, "inbox", "folder")
    writes.save_batch(db, source, model, [photo(1, place="Paris")])
    before = rollups(db)
    # The images (and their rollup rows) go in before the detections' missing model version fails the batch.
    with pytest.raises(StorageError, match="(?i)foreign key"):
        writes.save_batch(db, source, model + 99, [photo(2, place="Paris"), photo(3)])
    with pytest.raises(StorageError, match="cannot be stored as JSON"):  # the cursor goes last
        writes.save_batch(db, source, model, [photo(4, place="Paris")], cursor={"when": object()})
    assert rollups(db) == before
    assert drift(db) == NO_DRIFT


def _save_overlapping(url: str, worker: int, barrier, results, rounds: int) -> None:
    db = Database(url)
    try:
        source = sources.ensure_source(db, "inbox", "folder")
        model = model_versions.register_model_version(db, "d" * 64, "/m", "inception_v3", 299, ["acme"], {})
        for round_ in range(rounds):
            # Even rounds: both save the same photos. Odd rounds: each its own photos, counted into the same
            # rollup rows at the same time. After round 0 every photo is a near copy of a stored one.
            first = round_ * 1000 + (worker * 100 if round_ % 2 else 0)
            batch = [
                photo(
                    first + n,
                    (n + 1) * 0x0101_0101_0101_0101 ^ (round_ % 2),
                    ("acme", "globex"),
                    place=("Paris", None)[n % 2],
                    reach=n,
                    posted_at=datetime(2026, 3, 1, 12, n, tzinfo=UTC),
                )
                for n in range(20)
            ]
            barrier.wait(timeout=60)
            results.put(writes.save_batch(db, source, model, batch))
    except BaseException as exc:  # report it to the parent rather than hang it
        results.put(exc)
        raise
    finally:
        db.dispose()


def test_two_processes_adding_to_the_same_rollup_rows_count_each_photo_once(pg_url: str) -> None:
    open_database(pg_url, upgrade=True).dispose()
    context = multiprocessing.get_context("spawn")
    barrier, results, rounds = context.Barrier(2), context.Queue(), 4
    workers = [
        context.Process(target=_save_overlapping, args=(pg_url, worker, barrier, results, rounds))
        for worker in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * rounds)]
    for worker in workers:
        worker.join(timeout=60)
    assert all(isinstance(outcome, BatchResult) for outcome in outcomes), outcomes
    assert sum(o.new for o in outcomes) == 20 + 40 + 20 + 40
    assert sum(o.reposts for o in outcomes) == 40 + 20 + 40
    db = Database(pg_url)
    try:
        assert drift(db) == NO_DRIFT
        assert sum(row[6] for row in rollups(db)["image_rollups"]) == 120
    finally:
        db.dispose()


def test_rebuild_rollups_command_checks_and_repairs(sqlite_url: str) -> None:
    db = open_database(sqlite_url, upgrade=True)
    try:
        source = sources.ensure_source(db, "inbox", "folder")
        model = model_versions.register_model_version(db, "c" * 64, "/m", "inception_v3", 299, ["acme"], {})
        writes.save_batch(db, source, model, [photo(n, place="Oslo") for n in range(3)])
        with db.session(write=True) as session:  # a count gone wrong
            session.execute(DetectionRollup.__table__.update().values(photos=DetectionRollup.photos + 1))

        def run(*args: str):
            return run_cli("db", "rebuild-rollups", "--url", sqlite_url, *args)

        checked = run("--check")
        assert checked.exit_code == 1, checked.output
        assert checked.output.endswith(
            "rollup rows differing from the raw tables: detection_rollups 1, image_rollups 0\n"
        ), checked.output
        rebuilt = run()
        assert rebuilt.output.endswith("rollup rows written: detection_rollups 1, image_rollups 1\n"), rebuilt.output
        assert run("--check").exit_code == 0
        assert drift(db) == NO_DRIFT
    finally:
        db.dispose()


def test_rollup_reads_refuse_a_span_that_splits_a_day(db: Database, model: int) -> None:
    from storage import queries

    writes.save_batch(db, sources.ensure_source(db, "inbox", "folder"), model, [photo(1), photo(30)])
    midnight = datetime(2026, 3, 1, tzinfo=UTC)
    noon = midnight + timedelta(hours=12)
    with pytest.raises(StorageError, match="whole UTC days: 2026-03-01T12:00:00"):
        queries.detections_in_span(db, model, noon, midnight + timedelta(days=2))
    assert queries.detections_in_span(db, model, noon, midnight + timedelta(days=2), raw=True) == 2
    assert queries.detections_in_span(db, model, midnight, midnight + timedelta(days=1)) == 1
