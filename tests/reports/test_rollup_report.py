"""Reports read from the rollups write the same CSV files, byte for byte, as reports read from the raw rows."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from report_seed import AFTER_END, BASELINE_START, START, Campaign
from reports import build_campaign_report, build_period_report, write_report
from storage.detections import save_detections_in
from storage.engine import Database, open_database
from storage.model_versions import register_model_version
from storage.records import DetectionRecord, ImageRecord
from storage.rollups import rollup_drift
from storage.schema import Image
from storage.sources import ensure_source
from storage.writes import save_batch

UTC = UTC
PLACES = {"Paris": (48.8566, 2.3522), "New York": (40.7128, -74.0060), "Oslo": (59.9139, 10.7522), None: None}
REASONS = ("too_small", "truncated", None)


def _brands(n: int, day: date) -> list[DetectionRecord]:
    during = START <= day <= START + timedelta(days=13)
    brands = [
        b
        for b, shown in (("Acme", n % (2 if during else 3) == 0), ("Globex", n % 4 == 1), ("Initech", n % 5 == 2))
        if shown
    ]
    return [DetectionRecord(b, 0.5 + (n % 50) / 100) for b in brands]


def _day_batch(rng: random.Random, day: date, source: int, first: int, earlier: list[int]) -> list[ImageRecord]:
    """Five to seven photos of one source and day: places and reach incl. none, a rejected one, reposts."""
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    # Day edges: midnight, the last microsecond, and a local time a day ahead of its UTC day.
    times = [
        midnight,
        midnight + timedelta(hours=23, minutes=59, seconds=59, microseconds=999999),
        (midnight + timedelta(hours=20)).astimezone(timezone(timedelta(hours=5))),
    ]
    batch, hashes = [], []
    for k in range(5 + (first + source) % 3):
        n = first + k
        place = list(PLACES)[(n + source) % len(PLACES)]
        phash = rng.getrandbits(64)
        record = ImageRecord(
            sha256=f"{n:064x}",
            uri=f"https://example.test/{n}.jpg",
            external_id=str(n),
            posted_at=times[k] if k < len(times) else midnight + timedelta(minutes=37 * n % 1400),
            time_source="source",
            phash=f"{phash:016x}",
            place=place,
            latitude=PLACES[place][0] if PLACES[place] else None,
            longitude=PLACES[place][1] if PLACES[place] else None,
            reach=(100, None, 2500, 0, 7)[n % 5],
            caption=f"photo {n}",
            detections=_brands(n, day),
        )
        if n % 7 == 3:
            record.status, record.reject_reason, record.detections = "rejected", REASONS[n % 3], []
        batch.append(record)
        hashes.append(phash)
    # A near copy of this batch's first photo, and one of a photo stored days before.
    for k, original in enumerate([hashes[0], *(earlier[-9:-8] if len(earlier) > 9 else [])]):
        n = first + len(hashes) + k
        batch.append(
            ImageRecord(
                sha256=f"{n:064x}",
                uri=f"https://example.test/{n}.jpg",
                posted_at=midnight + timedelta(hours=6 + k),
                phash=f"{original ^ 0b101:016x}",
                place="Paris",
                reach=50,
                detections=[DetectionRecord("Acme", 0.8)],
            )
        )
    earlier.extend(hashes)
    return batch


def _store_mixed_data(db: Database) -> int:
    """Batches over the campaign's windows through save_batch, then a second model version; returns its id."""
    rng = random.Random(7)
    sources = [ensure_source(db, name, "rss") for name in ("feed-a", "feed-b", "feed-c")]
    v1 = register_model_version(
        db,
        "a" * 64,
        "/models/v1",
        "inception_v3",
        299,
        ["Acme", "Globex", "Initech"],
        {"Acme": 0.5, "Globex": 0.5, "Initech": 0.5},
    )
    earlier: list[int] = []
    n, day, again = 1, BASELINE_START - timedelta(days=2), []
    while day <= AFTER_END + timedelta(days=2):
        for source in sources:
            batch = _day_batch(rng, day, source, n, earlier)
            save_batch(db, source, v1, batch, cursor={"n": n})
            n += len(batch)
            if day.day == 5:
                again.append((source, batch))
        day += timedelta(days=1)
    for source, batch in again:  # the same batches once more: nothing new
        assert save_batch(db, source, v1, batch).new == 0
    v2 = register_model_version(db, "b" * 64, "/models/v2", "mobilenet_v2", 224, ["Acme", "Globex"], {})
    source, batch = again[1]
    save_batch(db, source, v2, batch)  # stored photos, scored by the newer model
    with db.session(write=True) as session:
        ids = list(session.scalars(select(Image.id).order_by(Image.id)))
        found = {
            image_id: [DetectionRecord("Acme", 0.7)] + ([DetectionRecord("Globex", 0.6)] if image_id % 3 else [])
            for image_id in ids[::2]
        }
        save_detections_in(session, v2, found)
    return v2


def _csv_files(report, out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in write_report(report, out, ["csv"])}


def test_reports_from_rollups_and_from_raw_rows_are_identical(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url, upgrade=True)
    try:
        v2 = _store_mixed_data(db)
        with db.session() as session:
            assert rollup_drift(session.connection()) == {"detection_rollups": 0, "image_rollups": 0}
        reports = {
            "campaign": lambda raw: build_campaign_report(db, Campaign(), tracked=["Initech"], raw=raw),
            "campaign-v1-reposts": lambda raw: build_campaign_report(
                db, Campaign(), model_version=1, include_reposts=True, by="week", raw=raw
            ),
            "period": lambda raw: build_period_report(
                db, START - timedelta(days=3), START + timedelta(days=20), tracked=["Acme", "Globex"], raw=raw
            ),
        }
        written = {}
        for name, build in reports.items():
            rolled, raw = build(False), build(True)
            written[name] = _csv_files(rolled, tmp_path / name / "rollups")
            assert written[name] == _csv_files(raw, tmp_path / name / "raw"), name
        # The data reaches every case the rollups translate.
        campaign = {name: text.decode() for name, text in written["campaign"].items()}
        assert "(no place)" in campaign["places.csv"] and "Oslo" in campaign["places.csv"]
        assert all(
            reason in campaign["rejections.csv"] for reason in ("too_small", "truncated", "(no reason recorded)")
        )
        assert all(backbone in campaign["model_versions.csv"] for backbone in ("inception_v3", "mobilenet_v2"))
        assert all(s in campaign["sources.csv"] for s in ("feed-a", "feed-b", "feed-c"))
        assert written["campaign"]["summary.csv"] != written["campaign-v1-reposts"]["summary.csv"]
        assert build_campaign_report(db, Campaign()).model_version["id"] == v2
    finally:
        db.dispose()
