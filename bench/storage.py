"""Storage benchmark: insert detections through storage.writes.save_batch, then time the report aggregation.

Usage: python bench/storage.py [--sqlite PATH] [--postgres URL] [--detections 1000000]
Prints JSON: rows/s per database, and the seconds and query plan of 'photos per brand per day in a
90-day window' (the plain detections aggregation and storage.queries.brand_counts_by_day).
--postgres names a server database; the benchmark creates its own database there and drops it after.
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
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from sqlalchemy import String, create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from storage.engine import Database, open_database  # noqa: E402
from storage.model_versions import register_model_version  # noqa: E402
from storage.records import DetectionRecord, ImageRecord  # noqa: E402
from storage.redaction import redact_url  # noqa: E402
from storage.schema import Detection  # noqa: E402
from storage.sources import ensure_source  # noqa: E402
from storage.writes import save_batch  # noqa: E402

BRANDS = ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
PLACES = [f"City {i}" for i in range(20)] + [None]
SOURCES = [("inbox", "folder"), ("press", "rss"), ("social", "json"), ("partners", "rss")]
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90


def make_batches(detections: int, batch_images: int, seed: int):
    """Batches of ImageRecords, ~3 detections each (2-4 brands), spread over 90 days."""
    rng = random.Random(seed)
    made, number, batch = 0, 0, []
    while made < detections:
        brands = rng.sample(BRANDS, min(rng.randint(2, 4), detections - made))
        made += len(brands)
        number += 1
        batch.append(
            ImageRecord(
                sha256=hashlib.sha256(f"photo-{seed}-{number}".encode()).hexdigest(),
                uri=f"https://example.org/photos/{number}.jpg",
                external_id=str(number),
                posted_at=START + timedelta(seconds=rng.randrange(DAYS * 86400)),
                time_source="source",
                phash=f"{rng.getrandbits(64):016x}",
                place=rng.choice(PLACES),
                reach=int(rng.lognormvariate(6, 1.5)),
                width=1080,
                height=1080,
                detections=[DetectionRecord(b, round(rng.uniform(0.5, 1.0), 3)) for b in brands],
            )
        )
        if len(batch) == batch_images:
            yield batch
            batch = []
    if batch:
        yield batch


def insert(db: Database, args: argparse.Namespace, label: str) -> dict[str, Any]:
    """Save every batch through storage.writes.save_batch; rows per second."""
    sources = [ensure_source(db, name, kind) for name, kind in SOURCES]
    model = register_model_version(
        db, "bench" * 12 + "abcd", "/bench", "inception_v3", 299, BRANDS, {b: 0.5 for b in BRANDS}
    )
    images = detections = batches = reposts = 0
    started = time.perf_counter()
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"{label}: inserting", total=args.detections)
        for index, batch in enumerate(make_batches(args.detections, args.batch_images, args.seed)):
            result = save_batch(
                db,
                sources[index % len(sources)],
                model,
                batch,
                cursor={"batch": index},
                phash_distance=args.phash_distance,
            )
            added = sum(result.detections.values())
            images, detections, batches = images + result.new, detections + added, batches + 1
            reposts += result.reposts
            progress.advance(task, added)
            if detections // 100_000 > (detections - added) // 100_000:  # a trace if it is cut short
                elapsed = time.perf_counter() - started
                print(
                    json.dumps(
                        {
                            "progress": label,
                            "detections": detections,
                            "seconds": round(elapsed, 1),
                            "detections_per_s": round(detections / elapsed),
                        }
                    ),
                    file=sys.stderr,
                    flush=True,
                )
    seconds = time.perf_counter() - started
    return {
        "images": images,
        "detections": detections,
        "reposts_found": reposts,
        "batches": batches,
        "seconds": round(seconds, 2),
        "detections_per_s": round(detections / seconds),
        "images_per_s": round(images / seconds),
        "model_version_id": model,
    }


def _day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD", type_=String)
    return func.substr(column, 1, 10, type_=String)


def _plan(db: Database, statement: str, parameters: Any) -> list[str]:
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return [row[-1] for row in rows]
        return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()]


def _timed(db: Database, run: Callable[[], Any], repeats: int = 3) -> tuple[list[float], Any, list[tuple[str, Any]]]:
    """Run a query `repeats` times; the seconds of each, its result and the statements the last run sent."""
    sent: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        times, result = [], None
        for _ in range(repeats):
            sent.clear()
            started = time.perf_counter()
            result = run()
            times.append(round(time.perf_counter() - started, 3))
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return times, result, sent


def _plans(db: Database, sent: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [{"sql": " ".join(sql.split())[:160], "plan": _plan(db, sql, params)} for sql, params in sent]


def aggregate(db: Database, model: int) -> dict[str, Any]:
    """Photos per brand per day in a 90-day window: the plain aggregation and the report's query."""
    start, end = START, START + timedelta(days=DAYS)
    day = _day(Detection.posted_at, db.dialect).label("day")
    plain = (
        select(day, Detection.brand, func.count().label("photos"))
        .where(Detection.model_version_id == model, Detection.posted_at >= start, Detection.posted_at < end)
        .group_by(day, Detection.brand)
        .order_by(day, Detection.brand)
    )

    def run_plain() -> list[Any]:
        with db.session() as session:
            return session.execute(plain).all()

    times, rows, sent = _timed(db, run_plain)
    out: dict[str, Any] = {
        "window_days": DAYS,
        "plain": {
            "sql": "detections only: day, brand, count(*) GROUP BY day, brand",
            "seconds": min(times),
            "seconds_each": times,
            "groups": len(rows),
            "photos": sum(r.photos for r in rows),
            "plan": _plan(db, *sent[-1]),
        },
    }
    try:
        from storage.queries import brand_counts_by_day
    except ImportError:
        out["report"] = "storage.queries.brand_counts_by_day is not available"
        return out
    times, rows, sent = _timed(db, lambda: brand_counts_by_day(db, model, start, end))
    out["report"] = {
        "function": "storage.queries.brand_counts_by_day",
        "seconds": min(times),
        "seconds_each": times,
        "groups": len(rows),
        "photos": sum(r["photos"] for r in rows),
        "statements": _plans(db, sent),
    }
    return out


def bench(url: str, args: argparse.Namespace, label: str) -> dict[str, Any]:
    db = open_database(url, upgrade=True)
    try:
        inserted = insert(db, args, label)
        if db.dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        result = {"url": redact_url(db.url), "insert": inserted}
        result["aggregation"] = aggregate(db, inserted["model_version_id"])
        return result
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, help="SQLite file to create (default: a temporary one)")
    parser.add_argument("--postgres", help="PostgreSQL server URL; a scratch database is created there")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    parser.add_argument("--detections", type=int, default=1_000_000)
    parser.add_argument("--batch-images", type=int, default=256, help="photos per save_batch transaction")
    parser.add_argument("--phash-distance", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    report: dict[str, Any] = {
        "detections": args.detections,
        "batch_images": args.batch_images,
        "phash_distance": args.phash_distance,
        "days": DAYS,
        "brands": len(BRANDS),
        "sources": len(SOURCES),
        "places": len(PLACES),
        "loadavg_at_start": [round(x, 1) for x in os.getloadavg()],
    }
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as scratch:
            path = args.sqlite or Path(scratch) / "bench.db"
            if path.exists():
                sys.exit(f"{path} exists; give a new file")
            report["sqlite"] = bench(f"sqlite:///{path}", args, "sqlite")
            report["sqlite"]["file_mb"] = round(path.stat().st_size / 1e6, 1)
    if args.postgres:
        name = f"bench_storage_{uuid.uuid4().hex[:8]}"
        admin = create_engine(
            make_url(args.postgres).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.postgres).set(drivername="postgresql+psycopg", database=name)
            report["postgresql"] = bench(url.render_as_string(hide_password=False), args, "postgresql")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    report["loadavg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
