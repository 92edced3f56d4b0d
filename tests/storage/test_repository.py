"""The pipeline's writes: idempotent batches, reposts, atomic cursor, poll status, model versions."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from storage import model_versions, sources, writes
from storage.engine import Database, open_database
from storage.errors import StorageError
from storage.records import BatchResult, DetectionRecord, FetchFailureRecord, ImageRecord
from storage.schema import Detection, FetchFailure, Image, Source, Thumbnail


def sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def image(n: int, phash: str | None = None, brands: tuple[str, ...] = ("acme", "globex"), **fields) -> ImageRecord:
    fields.setdefault("posted_at", datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(hours=n))
    return ImageRecord(
        sha256=sha(n),
        uri=f"https://example.org/{n}.jpg",
        external_id=str(n),
        phash=phash,
        detections=[DetectionRecord(b, 0.9) for b in brands],
        **fields,
    )


def count(db: Database, model, *where) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def source(db: Database) -> int:
    return sources.ensure_source(db, "inbox", "folder")


@pytest.fixture
def model(db: Database) -> int:
    return model_versions.register_model_version(
        db, "c" * 64, "/models/v1", "inception_v3", 299, ["acme", "globex"], {"acme": 0.5, "globex": 0.6}, {"map": 0.8}
    )


def test_ensure_source_and_model_version_are_idempotent(db: Database, source: int, model: int) -> None:
    assert sources.ensure_source(db, "inbox", "folder") == source
    assert sources.ensure_source(db, "other", "rss") != source
    assert model_versions.register_model_version(db, "c" * 64, "/elsewhere", "x", 1, [], {}) == model
    assert count(db, Source) == 2


def test_same_image_saved_twice_is_one_row(db: Database, source: int, model: int) -> None:
    first = writes.save_batch(db, source, model, [image(1), image(2)], cursor={"n": 2})
    assert first == BatchResult(
        new=2, duplicates=0, reposts=0, rejected={}, detections={"acme": 2, "globex": 2}, failures=0
    )
    second = writes.save_batch(db, source, model, [image(1), image(1)], cursor={"n": 3})
    assert second == BatchResult(new=0, duplicates=2, reposts=0, rejected={}, detections={}, failures=0)
    assert count(db, Image) == 2
    assert count(db, Detection) == 4
    assert writes.known_sha256(db, [sha(1), sha(2), sha(3)]) == {sha(1), sha(2)}
    assert sources.get_cursor(db, source) == {"n": 3}


def test_detections_copy_the_images_time_and_source(db: Database, source: int, model: int) -> None:
    writes.save_batch(db, source, model, [image(5)])
    with db.session() as session:
        rows = session.execute(
            select(Detection.posted_at, Detection.source_id, Image.posted_at).join(
                Image, Image.id == Detection.image_id
            )
        ).all()
    assert rows and all(d_at == i_at and d_source == source for d_at, d_source, i_at in rows)


def test_timestamps_round_trip_as_aware_utc(db: Database, source: int, model: int) -> None:
    posted = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30 UTC next day
    writes.save_batch(db, source, model, [image(1, posted_at=posted, time_source="exif")])
    with db.session() as session:
        stored = session.scalars(select(Image)).one()
        detection_at = session.scalars(select(Detection.posted_at)).first()
    assert stored.posted_at == posted
    assert stored.posted_at.utcoffset() == timedelta(0)
    assert (stored.posted_at.day, stored.posted_at.hour, stored.posted_at.minute) == (2, 4, 30)
    assert detection_at.utcoffset() == timedelta(0) and detection_at == posted
    assert stored.time_source == "exif"
    assert stored.ingested_at.utcoffset() == timedelta(0)
    assert abs(stored.ingested_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_missing_posted_at_means_when_ingested(db: Database, source: int, model: int) -> None:
    writes.save_batch(db, source, model, [image(1, posted_at=None, time_source="source")])
    with db.session() as session:
        stored = session.scalars(select(Image)).one()
    assert stored.time_source == "ingested" and stored.posted_at == stored.ingested_at


def test_near_copies_are_stored_as_reposts_of_the_first(db: Database, source: int, model: int) -> None:
    original = "f0f0f0f0f0f0f0f0"
    three_bits = "f0f0f0f0f0f0f0f7"  # 3 bits away
    far = "0f0f0f0f0f0f0f0f"  # 64 bits away
    assert writes.save_batch(db, source, model, [image(1, original)], phash_distance=6).reposts == 0
    result = writes.save_batch(db, source, model, [image(2, three_bits), image(3, far)], phash_distance=6)
    assert (result.new, result.reposts) == (2, 1)
    # A copy of the repost points at the first photo, not at the repost; so does a copy within the batch.
    result = writes.save_batch(
        db, source, model, [image(4, three_bits), image(5, far.replace("0f", "1f", 1))], phash_distance=6
    )
    assert (result.new, result.reposts) == (2, 2)
    with db.session() as session:
        by_sha = dict(session.execute(select(Image.sha256, Image.id)).all())
        reposts = dict(session.execute(select(Image.sha256, Image.repost_of_id)).all())
    assert reposts[sha(1)] is None and reposts[sha(3)] is None
    assert reposts[sha(2)] == by_sha[sha(1)]
    assert reposts[sha(4)] == by_sha[sha(1)]
    assert reposts[sha(5)] == by_sha[sha(3)]


def test_repost_within_one_batch_and_distance_bound(db: Database, source: int, model: int) -> None:
    base = 0x0123456789ABCDEF
    seven_bits = base ^ 0b1111111  # all seven flips in the lowest band
    result = writes.save_batch(
        db, source, model, [image(1, f"{base:016x}"), image(2, f"{seven_bits:016x}")], phash_distance=6
    )
    assert result.reposts == 0  # 7 > 6
    spread = base ^ (1 << 0) ^ (1 << 20) ^ (1 << 40) ^ (1 << 60) ^ (1 << 61) ^ (1 << 62)  # 6 bits, all bands
    result = writes.save_batch(
        db, source, model, [image(3, f"{spread:016x}"), image(4, f"{spread ^ 1 << 30:016x}")], phash_distance=6
    )
    assert result.reposts == 2  # 3 is 6 bits from 1; 4 is 7 from 1 but 1 from 3, which is 1's repost
    with db.session() as session:
        reposts = dict(session.execute(select(Image.sha256, Image.repost_of_id)).all())
        first = session.scalar(select(Image.id).where(Image.sha256 == sha(1)))
    assert reposts[sha(3)] == first and reposts[sha(4)] == first


def test_rejected_images_are_kept_without_detections_and_never_originals(db: Database, source: int, model: int) -> None:
    rejected = image(1, "aaaaaaaaaaaaaaaa", status="rejected", reject_reason="too_small", reject_detail="20x20")
    result = writes.save_batch(db, source, model, [rejected, image(2, "aaaaaaaaaaaaaaaa")])
    assert (result.new, result.reposts, result.rejected, result.detections) == (
        2,
        0,
        {"too_small": 1},
        {"acme": 1, "globex": 1},
    )


def test_bad_phash_costs_only_its_photo_with_a_clear_reason(db: Database, source: int, model: int) -> None:
    result = writes.save_batch(db, source, model, [image(1, "xyz"), image(2, "aaaaaaaaaaaaaaaa")])
    assert (result.new, result.failures) == (1, 1)
    assert count(db, Image) == 1
    with db.session() as session:
        reason, detail = session.execute(select(FetchFailure.reason, FetchFailure.detail)).one()
    assert reason == writes.UNSTORABLE
    assert detail == "item '1': perceptual hash 'xyz' is not 16 hex digits (imagehash.phash with hash_size=8)"


def test_failed_batch_leaves_no_rows_and_no_cursor_change(db: Database, source: int, model: int) -> None:
    writes.save_batch(db, source, model, [image(1)], cursor={"n": 1})
    # The detections' model version does not exist: the insert fails after the images went in.
    with pytest.raises(StorageError, match="(?i)foreign key"):
        writes.save_batch(
            db,
            source,
            model + 99,
            [image(2), image(3)],
            failures=[FetchFailureRecord("https://x/1", "timeout")],
            cursor={"n": 3},
        )
    # The cursor is written last; a cursor that cannot be stored undoes the images before it.
    with pytest.raises(StorageError, match="cannot be stored as JSON"):
        writes.save_batch(db, source, model, [image(4)], cursor={"when": object()})
    assert count(db, Image) == 1 and count(db, Detection) == 2 and count(db, FetchFailure) == 0
    assert sources.get_cursor(db, source) == {"n": 1}


def test_thumbnails_and_fetch_failures(db: Database, source: int, model: int) -> None:
    thumbnailed = image(1, thumbnail_jpeg=b"\xff\xd8jpeg", thumbnail_width=64, thumbnail_height=48)
    failure = FetchFailureRecord("https://example.org/2.jpg", "timeout", "read timed out")
    assert writes.save_batch(db, source, model, [thumbnailed], failures=[failure]).failures == 1
    writes.save_batch(db, source, model, [thumbnailed], failures=[FetchFailureRecord(failure.uri, "http_404", "gone")])
    with db.session() as session:
        thumb = session.scalars(select(Thumbnail)).one()
        failed = session.scalars(select(FetchFailure)).one()
    assert (thumb.jpeg, thumb.width, thumb.height) == (b"\xff\xd8jpeg", 64, 48)
    assert (failed.attempts, failed.reason, failed.detail) == (2, "http_404", "gone")
    assert failed.last_at >= failed.first_at
    # Once the photo is stored, its old failure is gone.
    writes.save_batch(db, source, model, [image(2)])
    assert count(db, FetchFailure) == 0


def test_record_poll_counts_failures_and_resets_on_success(db: Database, source: int) -> None:
    retry = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    sources.record_poll(db, source, ok=False, error="HTTP 503 from https://feed", next_try_at=retry)
    sources.record_poll(db, source, ok=False, error="timed out", next_try_at=retry)
    [status] = sources.source_status(db)
    assert (status["consecutive_failures"], status["last_error"], status["next_try_at"]) == (2, "timed out", retry)
    assert status["last_error_at"].utcoffset() == timedelta(0) and status["last_success_at"] is None
    sources.record_poll(db, source, ok=True)
    [status] = sources.source_status(db)
    assert status["consecutive_failures"] == 0 and status["next_try_at"] is None
    assert status["last_success_at"] == status["last_polled_at"]
    with pytest.raises(StorageError, match="no source with id 12345"):
        sources.record_poll(db, 12345, ok=True)


def test_source_status_counts_per_source(db: Database, model: int) -> None:
    inbox = sources.ensure_source(db, "inbox", "folder")
    feed = sources.ensure_source(db, "feed", "rss")
    sources.ensure_source(db, "idle", "api")
    writes.save_batch(
        db,
        inbox,
        model,
        [
            image(1, "1111111111111111"),
            image(2, "1111111111111113"),
            image(3, status="rejected", reject_reason="decode", brands=()),
        ],
        failures=[FetchFailureRecord("https://x/9", "timeout")],
    )
    writes.save_batch(db, feed, model, [image(4, brands=("acme",))])
    status = {row["name"]: row for row in sources.source_status(db)}
    assert list(status) == ["feed", "idle", "inbox"]
    pick = ("images_accepted", "images_rejected", "reposts", "detections", "fetch_failures", "kind")
    assert {name: tuple(row[k] for k in pick) for name, row in status.items()} == {
        "inbox": (2, 1, 1, 4, 1, "folder"),
        "feed": (1, 0, 0, 1, 0, "rss"),
        "idle": (0, 0, 0, 0, 0, "api"),
    }


def _save_in_another_process(url: str, barrier, results, rounds: int) -> None:
    db = Database(url)
    try:
        source = sources.ensure_source(db, "inbox", "folder")
        model = model_versions.register_model_version(db, "d" * 64, "/m", "inception_v3", 299, ["acme", "globex"], {})
        for round_ in range(rounds):
            batch = [image(round_ * 100 + n, brands=("acme", "globex", "initech")) for n in range(20)]
            barrier.wait(timeout=60)
            results.put(writes.save_batch(db, source, model, batch, cursor={"round": round_}))
    except BaseException as exc:  # report it to the parent rather than hang it
        results.put(exc)
        raise
    finally:
        db.dispose()


def test_two_processes_saving_the_same_photos_at_once_leave_one_row_each(db_url: str) -> None:
    open_database(db_url, upgrade=True).dispose()
    context = multiprocessing.get_context("spawn")
    barrier, results, rounds = context.Barrier(2), context.Queue(), 3
    workers = [
        context.Process(target=_save_in_another_process, args=(db_url, barrier, results, rounds)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * rounds)]
    for worker in workers:
        worker.join(timeout=60)
    assert all(isinstance(outcome, BatchResult) for outcome in outcomes), outcomes
    assert sum(o.new for o in outcomes) == 20 * rounds
    assert sum(o.duplicates for o in outcomes) == 20 * rounds
    assert sum(sum(o.detections.values()) for o in outcomes) == 3 * 20 * rounds
    db = Database(db_url)
    try:
        assert count(db, Image) == 20 * rounds
        assert count(db, Source) == 1
        with db.session() as session:
            per_brand = dict(session.execute(select(Detection.brand, func.count()).group_by(Detection.brand)).all())
        assert per_brand == {"acme": 20 * rounds, "globex": 20 * rounds, "initech": 20 * rounds}
    finally:
        db.dispose()


@pytest.mark.parametrize("distance", [6, 10, 21])  # 21: too far for band probes, a full comparison
def test_reposts_match_a_brute_force_search(db: Database, source: int, model: int, distance: int) -> None:
    import random

    rng = random.Random(distance)
    hashes: list[int] = []
    for _ in range(160):
        if hashes and rng.random() < 0.4:  # a near or not-so-near copy of an earlier photo
            flips = rng.sample(range(64), rng.randint(0, distance + 3))
            hashes.append(rng.choice(hashes) ^ sum(1 << bit for bit in flips))
        else:
            hashes.append(rng.getrandbits(64))
    size = 40
    for start in range(0, len(hashes), size):
        batch = [image(n, f"{hashes[n]:016x}", brands=()) for n in range(start, start + size)]
        writes.save_batch(db, source, model, batch, phash_distance=distance)
    with db.session() as session:
        ids = {int(external): image_id for external, image_id in session.execute(select(Image.external_id, Image.id))}
        stored = {
            int(external): repost_of
            for external, repost_of in session.execute(select(Image.external_id, Image.repost_of_id))
        }
    got = [stored[n] for n in range(len(hashes))]
    # Brute force: the earliest (lowest id) photo of earlier batches within the distance, else the
    # first such photo earlier in the same batch; a copy of a copy points at the original.
    expected: list[int | None] = []
    for n, value in enumerate(hashes):
        near = [m for m in range(n) if (hashes[m] ^ value).bit_count() <= distance]
        before = [m for m in near if m // size < n // size]
        first = min(before, key=ids.__getitem__) if before else (near[0] if near else None)
        expected.append(None if first is None else (expected[first] or ids[first]))
    assert sum(e is not None for e in expected) > 20
    assert got == expected


def test_due_refetches_picks_transient_failures_with_a_ref_by_attempts_and_backoff(db, source):
    def ref(n: int) -> dict:
        return {"uri": f"https://x/{n}.jpg", "external_id": str(n)}

    writes.save_batch(
        db,
        source,
        None,
        [],
        [
            FetchFailureRecord("https://x/1.jpg", "http_503", "busy", ref=ref(1)),
            FetchFailureRecord("https://x/2.jpg", "http_404", "gone", ref=ref(2)),
            FetchFailureRecord("https://x/3.jpg", "timeout", "slow"),  # no ref (recorded before refs were kept)
            FetchFailureRecord("https://x/4.jpg", "timeout", "slow", ref=ref(4)),
        ],
    )
    writes.save_batch(db, source, None, [], [FetchFailureRecord("https://x/4.jpg", "timeout", "again")])  # 2nd try
    with db.session() as session:
        kept = dict(session.execute(select(FetchFailure.uri, FetchFailure.ref.is_(None))).all())
    assert kept == {
        "https://x/1.jpg": False,
        "https://x/2.jpg": False,
        "https://x/3.jpg": True,
        "https://x/4.jpg": False,
    }  # a retry without a ref keeps the one stored; None is SQL NULL
    transient, now = {"http_503", "timeout"}, datetime.now(UTC)
    due = sources.due_refetches
    assert due(db, source, transient, 5, 60, now=now) == []  # nothing is a minute old yet
    assert due(db, source, transient, 5, 60, now=now + timedelta(seconds=90)) == [ref(1)]  # 4 waits 2 minutes
    assert due(db, source, transient, 5, 60, now=now + timedelta(seconds=150)) == [ref(1), ref(4)]
    assert due(db, source, transient, 2, 60, now=now + timedelta(seconds=150)) == [ref(1)]  # 4 used its 2 tries
    assert due(db, source, transient, 1, 0, now=now) == []  # one try in all: never again
    writes.save_batch(db, source, None, [], fetched=["https://x/1.jpg"])  # its bytes turned up stored already
    assert due(db, source, transient, 5, 60, now=now + timedelta(seconds=150)) == [ref(4)]
