"""Benchmark: a campaign report from the rollups over N detections on PostgreSQL, and what keeping them costs.

Usage: python bench/report_scale.py --postgres URL [--detections 10000000] [--raw-max 10000000] [--batches 60]
PostgreSQL: a scratch database (created on the URL's server, dropped afterwards) gets N detections over
N/3 photos, 90 days, 10 brands, 4 sources, 9 places and 1% reposts from server-side SQL
(generate_series), then rebuild_rollups fills the rollups and `monitor report --campaign` (CSV + HTML,
through reports.output.make_report) is timed from the rollups and, up to --raw-max, from the raw rows,
checking that both write the same CSV files. Maintenance: the same run saves batches through
repository.save_batch on a fresh SQLite file and a fresh PostgreSQL database, alternating batches with and
without the rollup upserts, and reports the milliseconds each costs. Prints JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from storage.scratch import scratch_database  # noqa: E402

BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent"]
PLACES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "London", "New York", "Tokyo"]  # and none, 1 in 9
FIRST_DAY, DAYS = date(2026, 1, 1), 90
CAMPAIGN = {
    "name": "bench",
    "brand": "Acme",
    "start": date(2026, 1, 31),
    "end": date(2026, 3, 1),
    "competitors": ("Globex", "Initech"),
}  # 30 days with 30 before and 29 after in the data


def _sql_text_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


# Photo g's time and source, the same in both INSERTs so detections need no join to copy them.
_POSTED = f"(TIMESTAMPTZ '{FIRST_DAY} 00:00:00+00' + ((({{g}})::bigint * 7919) % {DAYS * 86400}) * INTERVAL '1 second')"
_SOURCE = "(1 + ({g}) % 4)"


def generate(url: str, detections: int) -> dict[str, Any]:
    """N detections (3 per accepted photo) and 2% more rejected photos, written by PostgreSQL itself."""
    from storage.migrate import upgrade

    upgrade(url)
    accepted = -(-detections // 3)
    rejected = accepted // 50
    engine = create_engine(url)
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(
                text(
                    "INSERT INTO sources (id, name, kind, consecutive_failures, created_at) "
                    "SELECT s, 'feed-' || s, 'rss', 0, now() FROM generate_series(1, 4) s"
                )
            )
            thresholds = json.dumps({b: 0.5 for b in BRANDS})
            per_brand = json.dumps(
                {
                    "per_brand": {
                        b: {"precision": 0.9, "recall": 0.8, "f1": 0.85, "ap": 0.9, "support": 300} for b in BRANDS
                    }
                }
            )
            conn.execute(
                text(
                    "INSERT INTO model_versions (id, checksum, bundle_path, backbone, input_size, classes, "
                    "thresholds, metrics, created_at) VALUES (1, :c, '/models/bench', 'inception_v3', 299, "
                    "CAST(:classes AS json), CAST(:t AS json), CAST(:m AS json), now())"
                ),
                {"c": "b" * 64, "classes": json.dumps(BRANDS), "t": thresholds, "m": per_brand},
            )
            conn.execute(
                text(
                    "INSERT INTO images (id, source_id, sha256, uri, posted_at, time_source, ingested_at, latitude, "
                    "longitude, place, reach, status, reject_reason, repost_of_id) "
                    f"SELECT g, {_SOURCE.format(g='g')}, lpad(to_hex(g), 64, '0'), 'https://x.test/' || g, "
                    f"{_POSTED.format(g='g')}, 'source', now(), "
                    "CASE WHEN g % 3 = 0 THEN 40 + (g % 1000) / 100.0 END, "
                    "CASE WHEN g % 3 = 0 THEN (g % 700) / 100.0 END, "
                    f"({_sql_text_array(PLACES)})[1 + g % 9], CASE WHEN g % 10 <> 0 THEN 100 + g % 1000 END, "
                    "CASE WHEN g > :a THEN 'rejected' ELSE 'accepted' END, "
                    "CASE WHEN g > :a THEN (ARRAY['too_small', 'truncated', 'not_an_image'])[1 + g % 3] END, "
                    "CASE WHEN g <= :a AND g % 100 = 5 THEN g - 1 END "
                    "FROM generate_series(1, :n) g"
                ),
                {"a": accepted, "n": accepted + rejected},
            )
            conn.execute(text("SELECT setval(pg_get_serial_sequence('images', 'id'), :n)"), {"n": accepted + rejected})
            images_s = time.perf_counter() - started
            _insert_detections(conn, detections)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return {
        "images": accepted + rejected,
        "images_rejected": rejected,
        "reposts": accepted // 100,
        "detections": detections,
        "images_s": round(images_s, 1),
        "generate_s": round(time.perf_counter() - started, 1),
    }


def _insert_detections(conn: Any, detections: int) -> None:
    """Detection k is photo k/3's (brands 3 apart, so distinct); its keys and indexes are built afterwards."""
    constraints = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'detections'::regclass "
            "AND contype IN ('p', 'u', 'f') ORDER BY contype DESC"
        )
    ).all()  # u, p, then f (after the keys exist)
    indexes = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'detections' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'detections'::regclass)"
        )
    ).all()
    for name, _ in constraints:
        conn.execute(text(f'ALTER TABLE detections DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    image = "(k / 3 + 1)"
    conn.execute(
        text(
            "INSERT INTO detections "
            "(id, image_id, brand, confidence, model_version_id, posted_at, source_id, created_at) "
            f"SELECT k + 1, {image}, ({_sql_text_array(BRANDS)})[1 + ({image} + 3 * (k % 3)) % 10], "
            f"0.5 + ((k * 31) % 500) / 1000.0, 1, {_POSTED.format(g=image)}, {_SOURCE.format(g=image)}, now() "
            "FROM generate_series(0, :d - 1) k"
        ),
        {"d": detections},
    )
    conn.execute(text("SELECT setval(pg_get_serial_sequence('detections', 'id'), :d)"), {"d": detections})
    for name, definition in sorted(constraints, key=lambda c: c[1].startswith("FOREIGN")):
        conn.execute(text(f'ALTER TABLE detections ADD CONSTRAINT "{name}" {definition}'))
    for _, definition in indexes:
        conn.execute(text(definition))


def rebuild(url: str) -> dict[str, Any]:
    """Time rebuild_rollups over everything generated."""
    from storage.rollups import rebuild_rollups

    engine = create_engine(url)
    try:
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
            rows = rebuild_rollups(conn)
        seconds = time.perf_counter() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE detection_rollups"))
            conn.execute(text("VACUUM ANALYZE image_rollups"))
    finally:
        engine.dispose()
    return {"rebuild_rollups_s": round(seconds, 1), "rollup_rows": rows}


def time_report(url: str, out: Path, raw: bool) -> tuple[float, dict[str, bytes]]:
    """Seconds `monitor report --campaign` takes (open, query, CSV + HTML), and the CSV files it wrote."""
    from reports.output import make_report
    from storage.campaigns import CampaignSpec

    started = time.perf_counter()
    _, paths = make_report(url, out, ["csv", "html"], campaign="bench", configured=[CampaignSpec(**CAMPAIGN)], raw=raw)
    seconds = time.perf_counter() - started
    return seconds, {p.name: p.read_bytes() for p in paths if p.suffix == ".csv"}


def maintenance_cost(url: str, batches: int, batch_images: int) -> dict[str, Any]:
    """Save batches through save_batch, every other one with the rollup upserts switched off; ms per batch.

    Also times the upserts themselves inside the batches that keep them: on a busy machine the
    difference of two noisy medians says less than that.
    """
    from storage import writes as repo  # add_images / add_detections are timed where save_batch calls them
    from storage.engine import open_database
    from storage.model_versions import register_model_version
    from storage.sources import ensure_source

    db = open_database(url, upgrade=True)
    kept = (repo.add_images, repo.add_detections)
    upserts: list[float] = []

    def timed(function: Any) -> Any:
        def run(*args: Any) -> None:
            started = time.perf_counter()
            function(*args)
            upserts[-1] += time.perf_counter() - started

        return run

    rng = random.Random(1)
    sources = [ensure_source(db, f"feed-{i}", "rss") for i in range(4)]
    model = register_model_version(db, "m" * 64, "/models/bench", "inception_v3", 299, BRANDS, {})
    seconds: dict[bool, list[float]] = {True: [], False: []}
    try:
        for index in range(batches):
            with_rollups = index % 2 == 0
            batch = _photos(rng, index, batch_images)
            if with_rollups:
                upserts.append(0.0)
                repo.add_images, repo.add_detections = (timed(f) for f in kept)
            else:
                repo.add_images, repo.add_detections = (lambda *a: None, lambda *a: None)
            started = time.perf_counter()
            repo.save_batch(db, sources[index % 4], model, batch)
            seconds[with_rollups].append(time.perf_counter() - started)
    finally:
        repo.add_images, repo.add_detections = kept
        db.dispose()
    # Medians, leaving out the first of each (it warms up): other work on the machine skews means.
    with_ms, without_ms = (1000 * median(seconds[flag][1:]) for flag in (True, False))
    return {
        "batches": batches,
        "photos_per_batch": batch_images,
        "ms_per_batch_with_rollups": round(with_ms, 1),
        "ms_per_batch_without": round(without_ms, 1),
        "difference_ms": round(with_ms - without_ms, 1),
        "rollup_upserts_ms_per_batch": round(1000 * median(upserts[1:]), 1),
        "rollup_upserts_pct_of_batch": round(100 * median(upserts[1:]) / median(seconds[True][1:]), 1),
    }


def _photos(rng: random.Random, batch: int, count: int) -> list[Any]:
    """Photos of one batch: ~3 brands each, 90 days, places incl. none, every 20th a near copy of an earlier one."""
    from storage.records import DetectionRecord, ImageRecord

    photos = []
    for n in range(count):
        phash = rng.getrandbits(64)
        if n % 20 == 19:
            phash = int(photos[n - 10].phash, 16) ^ 0b11
        photos.append(
            ImageRecord(
                sha256=hashlib.sha256(f"{batch}-{n}".encode()).hexdigest(),
                uri=f"https://x.test/{batch}/{n}.jpg",
                posted_at=datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC)
                + timedelta(seconds=rng.randrange(DAYS * 86400)),
                time_source="source",
                phash=f"{phash:016x}",
                place=rng.choice([*PLACES, None]),
                reach=rng.choice([None, rng.randrange(10, 10_000)]),
                detections=[DetectionRecord(b, 0.8) for b in rng.sample(BRANDS, 3)],
            )
        )
    return photos


def measure(
    url: str, detections: int, raw_max: int = 10_000_000, batches: int = 60, batch_images: int = 200
) -> dict[str, Any]:
    """Generate, rebuild the rollups, time the report both ways on PostgreSQL; time rollup upkeep on both databases."""
    import statsmodels.stats.rates  # noqa: F401

    import reports.campaign  # noqa: F401  the report's imports (pandas, plotly...) are not what is measured
    import reports.render_html  # noqa: F401

    result: dict[str, Any] = {
        "benchmark": "campaign report (CSV + HTML) from rollups on PostgreSQL",
        "target_s": 2.0,
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 1) for x in os.getloadavg()],
    }
    with scratch_database(url, "bench_rollups") as big, tempfile.TemporaryDirectory() as scratch:
        result["data"] = generate(big, detections)
        result.update(rebuild(big))
        out = Path(scratch)
        times, csv = [], {}
        for run in range(3):
            seconds, csv = time_report(big, out / f"rollups-{run}", raw=False)
            times.append(round(seconds, 2))
        result["report_from_rollups_s"] = min(times)
        result["report_from_rollups_runs_s"] = times
        if detections <= raw_max:
            seconds, raw_csv = time_report(big, out / "raw", raw=True)
            result["report_from_raw_s"] = round(seconds, 2)
            result["speedup"] = round(seconds / min(times), 1)
            result["identical_csv"] = raw_csv == csv
        summary = csv["summary.csv"].decode().splitlines()
        result["acme_during"] = next(line for line in summary if line.startswith("during,") and ",Acme," in line)
    with tempfile.TemporaryDirectory() as scratch:
        result["maintenance_sqlite"] = maintenance_cost(f"sqlite:///{scratch}/upkeep.db", batches, batch_images)
    with scratch_database(url, "bench_upkeep") as small:
        result["maintenance_postgresql"] = maintenance_cost(small, batches, batch_images)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="PostgreSQL server URL; scratch databases are made there")
    parser.add_argument("--detections", type=int, default=10_000_000)
    parser.add_argument("--raw-max", type=int, default=10_000_000, help="also time the raw path up to this size")
    parser.add_argument("--batches", type=int, default=60, help="save_batch calls per database for the upkeep cost")
    parser.add_argument("--batch-images", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(measure(args.postgres, args.detections, args.raw_max, args.batches, args.batch_images)))


if __name__ == "__main__":
    main()
