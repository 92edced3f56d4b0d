"""What fetching failed photos again costs a poll: storage.sources.due_refetches over many recorded failures.

Usage: python bench/refetch.py [--failures 20000] [--postgres URL]
Prints JSON per database: seconds to record the failures (batches of 32, with their refs) and the median
time of the per-poll query that picks the due ones (two thirds have a passing reason and are due an hour
later; the query hands at most 1,000 to one poll).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.errors import RETRYABLE_FETCH_REASONS  # noqa: E402
from monitor.refs import encode_ref  # noqa: E402
from monitor.sources.base import ImageRef  # noqa: E402
from storage.engine import open_database  # noqa: E402
from storage.records import FetchFailureRecord  # noqa: E402
from storage.schema import utcnow  # noqa: E402
from storage.sources import due_refetches, ensure_source  # noqa: E402
from storage.writes import save_batch  # noqa: E402


def run(url: str, failures: int) -> dict:
    db = open_database(url, upgrade=True)
    try:
        source = ensure_source(db, "bench", "rss")
        reasons = ["http_503", "http_404", "timeout"]
        started = time.perf_counter()
        for start in range(0, failures, 32):
            batch = [
                FetchFailureRecord(
                    f"https://example.com/p{i}.jpg",
                    reasons[i % 3],
                    "bench",
                    ref=encode_ref(ImageRef(f"https://example.com/p{i}.jpg", f"p{i}"), with_data=False),
                )
                for i in range(start, min(start + 32, failures))
            ]
            save_batch(db, source, None, [], batch)
        recorded = time.perf_counter() - started
        later = utcnow() + timedelta(hours=1)
        times, due = [], []
        for _ in range(5):
            started = time.perf_counter()
            due = due_refetches(db, source, RETRYABLE_FETCH_REASONS, 5, 600, now=later)
            times.append(time.perf_counter() - started)
        return {
            "failures": failures,
            "record_seconds": round(recorded, 2),
            "due_returned": len(due),
            "due_query_median_ms": round(1000 * statistics.median(times), 2),
        }
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=20_000)
    parser.add_argument("--postgres", default=os.environ.get("MONITOR_TEST_DATABASE_URL"))
    args = parser.parse_args()
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        report["sqlite"] = run(f"sqlite:///{tmp}/refetch.db", args.failures)
    if args.postgres:
        from storage.scratch import scratch_database

        with scratch_database(args.postgres, "bench_refetch") as url:
            report["postgresql"] = run(url, args.failures)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
