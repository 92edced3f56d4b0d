"""Benchmark: a full campaign report (CSV + HTML) over N detections on SQLite; seconds and peak RSS as JSON.

Usage: python bench/report.py [--sizes 100000 1000000] [--workdir DIR]
Each size is seeded once (SQLAlchemy Core executemany), then the report runs in a fresh child process
so its peak RSS is its own: memory should stay flat as rows grow (aggregation happens in SQL).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent"]
PLACES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "London", "New York", "Tokyo", None]
START, END = date(2026, 3, 2), date(2026, 3, 21)  # 20-day campaign: 60 days seeded in all
CHUNK = 50_000


def seed(url: str, detections: int) -> dict:
    """Images with two detections each over 60 days (1% reposts); Acme's rate doubles during the campaign."""
    import io

    from PIL import Image as PILImage
    from rich.progress import Progress
    from sqlalchemy import insert

    from storage.engine import Database
    from storage.migrate import upgrade
    from storage.rollups import rebuild_rollups
    from storage.schema import Base, Detection, Image, ModelVersion, Source, Thumbnail

    upgrade(url)
    db = Database(url)
    # Indexes the schema declares but the shipped migrations may not create yet.
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            index.create(db.engine, checkfirst=True)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    first = datetime.combine(START - timedelta(days=20), datetime.min.time(), tzinfo=UTC)
    seconds = 60 * 86400
    n_images = detections // 2
    buffer = io.BytesIO()
    PILImage.new("RGB", (160, 120), (30, 90, 200)).save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    campaign_start = datetime.combine(START, datetime.min.time(), tzinfo=UTC)
    campaign_end = datetime.combine(END + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    with db.engine.begin() as conn:
        conn.execute(
            insert(Source.__table__),
            [
                {"id": i + 1, "name": f"feed-{i}", "kind": "rss", "consecutive_failures": 0, "created_at": now}
                for i in range(5)
            ],
        )
        conn.execute(
            insert(ModelVersion.__table__),
            [
                {
                    "id": 1,
                    "checksum": "c" * 64,
                    "bundle_path": "/models/bench",
                    "backbone": "inception_v3",
                    "input_size": 299,
                    "classes": BRANDS,
                    "thresholds": {b: 0.5 for b in BRANDS},
                    "metrics": {
                        "error_rates": {  # measured error rates: the report corrects every count with them
                            "method": "split",
                            "detail": "bench",
                            "photos": 2000,
                            "source": "train",
                            "tiling": None,
                            "brands": {
                                b: {
                                    "threshold": 0.5,
                                    "tp": 240,
                                    "positives": 300,
                                    "fp": 20,
                                    "negatives": 1700,
                                    "fp_nologo": 12,
                                    "negatives_nologo": 1000,
                                    "fp_other": 8,
                                    "negatives_other": 700,
                                }
                                for b in BRANDS
                            },
                        }
                    },
                    "created_at": now,
                }
            ],
        )
    started = time.perf_counter()
    with Progress() as progress:
        task = progress.add_task(f"seeding {detections:,} detections", total=n_images)
        for offset in range(0, n_images, CHUNK):
            images, dets, thumbs = [], [], []
            for i in range(offset + 1, min(n_images, offset + CHUNK) + 1):
                posted = first + timedelta(seconds=(i * 7919) % seconds)
                during = campaign_start <= posted < campaign_end
                source = 1 + i % 5
                images.append(
                    {
                        "id": i,
                        "source_id": source,
                        "sha256": f"{i:064x}",
                        "uri": f"https://x.test/{i}.jpg",
                        "posted_at": posted,
                        "time_source": "source",
                        "ingested_at": now,
                        "place": PLACES[i % len(PLACES)],
                        "latitude": None,
                        "longitude": None,
                        "caption": f"photo {i}",
                        "reach": 100 + i % 1000,
                        "status": "accepted",
                        "repost_of_id": i - 1 if i % 100 == 5 else None,
                    }
                )  # 1% reposts
                # Acme shows in 1 of 10 images before/after and 2 of 10 during: the planted lift.
                acme = (i % 10 == 0) or (during and i % 10 == 1)
                brands = ["Acme", BRANDS[1 + i % 9]] if acme else [BRANDS[1 + i % 9], BRANDS[1 + (i + 3) % 9]]
                for k, brand in enumerate(brands):
                    dets.append(
                        {
                            "image_id": i,
                            "brand": brand,
                            "confidence": 0.5 + ((i * 31 + k) % 500) / 1000,
                            "model_version_id": 1,
                            "posted_at": posted,
                            "source_id": source,
                            "created_at": now,
                        }
                    )
                if i % 2000 == 0:
                    thumbs.append({"image_id": i, "jpeg": jpeg, "width": 160, "height": 120})
            with db.engine.begin() as conn:
                conn.execute(insert(Image.__table__), images)
                conn.execute(insert(Detection.__table__), dets)
                if thumbs:
                    conn.execute(insert(Thumbnail.__table__), thumbs)
            progress.advance(task, len(images))
    seeded = time.perf_counter()
    with db.engine.begin() as conn:  # the rows went in around save_batch: count them into the rollups
        rebuild_rollups(conn)
    db.dispose()
    return {
        "images": n_images,
        "detections": n_images * 2,
        "seed_s": round(seeded - started, 1),
        "rebuild_rollups_s": round(time.perf_counter() - seeded, 1),
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_report(url: str, out: str) -> None:
    """Child process: build and write the campaign report, print timings and peak RSS as JSON."""
    started = time.perf_counter()
    cpu_start = _cpu()
    from reports.campaign import build_campaign_report
    from reports.output import write_report
    from storage.campaigns import CampaignSpec
    from storage.engine import Database

    imported, cpu_imported = time.perf_counter(), _cpu()
    db = Database(url)
    campaign = CampaignSpec(name="bench", brand="Acme", start=START, end=END, competitors=("Globex", "Initech"))
    report = build_campaign_report(db, campaign)
    built = time.perf_counter()
    paths = write_report(report, Path(out), ["csv", "html"])
    written = time.perf_counter()
    acme = report.lifts[(report.lifts["brand"] == "Acme") & (report.lifts["window"] == "during")].iloc[0]
    print(
        json.dumps(
            {
                "import_s": round(imported - started, 2),
                "build_s": round(built - imported, 2),
                "write_s": round(written - built, 2),
                "report_s": round(written - imported, 2),
                "report_cpu_s": round(_cpu() - cpu_imported, 2),
                "import_cpu_s": round(cpu_imported - cpu_start, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "files": len(paths),
                "html_mb": round((Path(out) / "report.html").stat().st_size / 2**20, 2),
                "acme_lift": round(float(acme["lift"]), 3),
                "acme_corrected_lift": round(float(acme["corrected_lift"]), 3),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="detections per run")
    parser.add_argument("--workdir", type=Path, default=None, help="where the SQLite files go (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database of the same size")
    parser.add_argument("--child", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_report(*args.child)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-report-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        path = workdir / f"report-{size}.db"
        url = f"sqlite:///{path}"
        if args.reuse and path.exists():
            seeded = {"images": size // 2, "detections": size // 2 * 2, "seed_s": None, "rebuild_rollups_s": None}
        else:
            path.unlink(missing_ok=True)
            seeded = seed(url, size)
        child = subprocess.run(
            [sys.executable, __file__, "--child", url, str(workdir / f"out-{size}")],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"report run failed for {size:,} detections:\n{child.stderr}")
        results.append(
            {
                **seeded,
                "db_mb": round(path.stat().st_size / 2**20, 1),
                **json.loads(child.stdout.strip().splitlines()[-1]),
            }
        )
    summary = {
        "benchmark": "campaign report (CSV + HTML) on SQLite",
        "target_s": 5.0,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "runs": results,
    }
    if len(results) >= 2:
        small, large = results[0], results[-1]
        summary["rows_ratio"] = round(large["detections"] / small["detections"], 1)
        summary["rss_ratio"] = round(large["peak_rss_mb"] / small["peak_rss_mb"], 2)
        summary["time_ratio"] = round(large["report_s"] / small["report_s"], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
