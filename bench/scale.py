"""Scale benchmark (JSON): photos/s with the local executor and with Celery workers (1 and 2 processes).

Usage: python bench/scale.py [--photos 480] [--rounds 3] [--postgres URL] [--broker redis://127.0.0.1:6379/0]
                             [--backbone mobilenet_v1_025 --input-size 96] [--sizing-photos 64]
                             [--report-detections 0]

Three executors, each with a fresh PostgreSQL database on the --postgres server (created and dropped
here), classify generated 320x240 JPEGs at a small input size:
1. local: `ingest_once` in this process (the model loaded and warmed up before any clock starts);
2. celery, 1 worker process and 3. celery, 2 worker processes (`monitor worker --concurrency N`,
   Redis broker, queues of this run's own, deleted afterwards): the scheduler's outbox pass plus the
   wait until every batch is done; the workers are warmed up on other photos first.
Each round ingests a new set of --photos photos through every executor in turn (interleaved, so load
from other jobs falls on all of them alike); medians over the rounds are reported. The broker's
overhead per photo is the median of (celery 1 process - local) ms per photo.
--sizing-photos: InceptionV3 at 299 px (weights none) classifying that many photos in this process,
the per-photo CPU cost the README's sizing uses. --report-detections N > 0 also runs
bench/report_scale.py's measure() (a campaign report from the rollups over N detections).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/storage.py must not hide the storage package
from photos import photo_folder  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
BRANDS = ["acme", "globex", "initech", "umbrella"]
WARM_PHOTOS = 64


@contextmanager
def scratch_database(base: str) -> Iterator[str]:
    """A fresh PostgreSQL database at head, dropped afterwards."""
    from storage.migrate import upgrade
    from storage.scratch import scratch_database as fresh_database

    with fresh_database(base, "bench_scale") as url:
        upgrade(url)
        yield url


def write_config(work: Path, url: str, bundle: Path, broker: str, tag: str, sets: list[Path], warm: Path) -> Path:
    import yaml

    path = work / f"config-{tag}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": {"url": url},
                "classifier": {"model": str(bundle), "batch_size": 32},
                "ingest": {"batch_size": 32, "min_side": 16},
                "paths": {"cache": str(work / f"cache-{tag}")},
                "executor": {
                    "kind": "celery",
                    "broker_url": broker,
                    "fetch_queue": f"bench.fetch.{tag}",
                    "classify_queue": f"bench.classify.{tag}",
                    "heartbeat_interval": 2,
                    "redeliver_after": 600,
                },
                # settle_seconds 0: the generated photos are complete; the bench times the pipeline, not uploads
                "sources": [
                    {"name": f"set{i}", "kind": "folder", "path": str(folder), "settle_seconds": 0}
                    for i, folder in enumerate(sets)
                ]
                + [{"name": "warm", "kind": "folder", "path": str(warm), "settle_seconds": 0}],
            }
        )
    )
    return path


class LocalRunner:
    """The local executor in this process, the model loaded and warmed up before any pass is timed."""

    def __init__(self, config: Path, work: Path):
        from monitor.config import load_settings
        from monitor.model import load_model
        from monitor.pipeline import ingest_once
        from storage.engine import open_database

        self.settings = load_settings(config)
        self.db = open_database(self.settings.database.url)
        self.model = load_model(self.settings, self.db)
        ingest_once(self.settings, ["warm"], db=self.db, model=self.model)

    def run(self, source: str) -> None:
        from monitor.pipeline import ingest_once

        ingest_once(self.settings, [source], db=self.db, model=self.model)

    def close(self) -> None:
        self.db.dispose()


class CeleryRunner:
    """A `monitor worker --concurrency N` subprocess fed through the outbox and Redis by this process."""

    def __init__(self, config: Path, work: Path, processes: int):
        from monitor.config import load_settings
        from monitor.distributed.app import make_app
        from monitor.distributed.scheduler import Publisher
        from storage.engine import open_database

        self.settings = load_settings(config)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        log = open(work / f"worker-{processes}.log", "w")
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor.cli",
                "--config",
                str(config),
                "worker",
                "--concurrency",
                str(processes),
                "--name",
                f"bench{processes}@local",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.db = open_database(self.settings.database.url)
        self.publisher = Publisher(self.settings, self.db, make_app(self.settings))
        self.run("warm")  # TensorFlow and the model load in each child

    def run(self, source: str) -> None:
        from monitor.distributed.scheduler import Enqueuer
        from storage.batches import outbox_backlog

        summary = Enqueuer(self.settings, self.db, self.publisher).run_source(self.settings.source(source))
        assert not summary.error, summary.error
        while outbox_backlog(self.db)["pending"]:
            time.sleep(0.02)

    def close(self) -> None:
        os.killpg(self.worker.pid, signal.SIGTERM)
        self.worker.wait(timeout=120)
        self.db.dispose()
        _delete_queues(self.settings)


def _count_rows(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM images")).scalar())
    finally:
        engine.dispose()


def _delete_queues(settings) -> None:
    from monitor.distributed.app import delete_queues

    delete_queues(settings.executor.broker_url, [settings.executor.fetch_queue, settings.executor.classify_queue])


def table_bytes(url: str) -> dict[str, Any]:
    """Rows and bytes per row (table, TOAST and indexes) of every table holding rows, on PostgreSQL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    sizes: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            names = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            for name in sorted(names):
                count = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar()
                if count:
                    total = conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": name}).scalar()
                    sizes[name] = {"rows": count, "bytes_per_row": round(total / count)}
    finally:
        engine.dispose()
    return sizes


def payload_bytes(photos: Path) -> dict[str, Any]:
    """Mean bytes per photo on disk and in a classify task (JSON, base64)."""
    sizes = [p.stat().st_size for p in photos.glob("*.jpg")]
    mean = sum(sizes) / len(sizes)
    return {"jpeg_bytes_mean": round(mean), "classify_message_bytes_per_photo": round(mean * 4 / 3 + 300)}


def sizing_cost(count: int) -> dict[str, Any]:
    """Seconds per photo for InceptionV3 at 299 px on this CPU (batched predict, decoded photos)."""
    import numpy as np

    from classifier import LogoClassifier

    model = LogoClassifier.create(BRANDS, backbone="inception_v3", weights="none", input_size=299)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (299, 299, 3), dtype=np.uint8) for _ in range(count)]
    model.predict(images[:32])
    start = time.perf_counter()
    model.predict(images, batch_size=32)
    elapsed = time.perf_counter() - start
    return {
        "inception_v3_299_ms_per_photo": round(1000 * elapsed / count, 1),
        "photos": count,
        "precision": model.compute_precision,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=480, help="photos per timed pass")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per executor, interleaved")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MONITOR_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--backbone", default="mobilenet_v1_025")
    parser.add_argument("--input-size", type=int, default=96)
    parser.add_argument("--sizing-photos", type=int, default=64)
    parser.add_argument("--report-detections", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()

    import tempfile

    from classifier import LogoClassifier

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    sets = [
        photo_folder(work / f"set{r}", args.photos, first_seed=r * 100_000, size=(320, 240), name="p{i:05d}.jpg")
        for r in range(args.rounds)
    ]
    warm = photo_folder(work / "warm", WARM_PHOTOS, first_seed=1_000_000, size=(320, 240), name="p{i:05d}.jpg")
    bundle = work / "model"
    if not bundle.exists():
        LogoClassifier.create(BRANDS, backbone=args.backbone, weights="none", input_size=args.input_size).save(bundle)
    result: dict[str, Any] = {
        "benchmark": "ingest photos/s: local executor vs Celery workers (Redis broker, PostgreSQL)",
        "photos_per_pass": args.photos,
        "rounds": args.rounds,
        "photo_size": "320x240 JPEG",
        "model": f"{args.backbone} {args.input_size}px weights none",
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 1) for x in os.getloadavg()],
    }
    modes = {"local": 0, "celery_1_process": 1, "celery_2_processes": 2}
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    with ExitStack() as stack:
        runners: dict[str, Any] = {}
        urls: dict[str, str] = {}
        for mode, processes in modes.items():
            urls[mode] = stack.enter_context(scratch_database(args.postgres))
            config = write_config(work, urls[mode], bundle, args.broker, uuid.uuid4().hex[:8], sets, warm)
            runner = LocalRunner(config, work) if not processes else CeleryRunner(config, work, processes)
            stack.callback(runner.close)
            runners[mode] = runner
        for r in range(args.rounds):  # interleaved, so the machine's other load falls on every mode alike
            for mode, runner in runners.items():
                start = time.perf_counter()
                runner.run(f"set{r}")
                seconds[mode].append(time.perf_counter() - start)
        for mode, url in urls.items():
            stored = _count_rows(url)
            assert stored == args.rounds * args.photos + WARM_PHOTOS, (mode, stored)
        result["stored_bytes_per_row"] = table_bytes(urls["celery_2_processes"])
    ms = {mode: [1000 * t / args.photos for t in times] for mode, times in seconds.items()}
    result["photos_per_s"] = {
        mode: {
            "median": round(args.photos / median(times), 1),
            "each_round": [round(args.photos / t, 1) for t in times],
        }
        for mode, times in seconds.items()
    }
    result["ms_per_photo_median"] = {mode: round(median(values), 2) for mode, values in ms.items()}
    result["broker_overhead_ms_per_photo"] = round(
        median([c - loc for c, loc in zip(ms["celery_1_process"], ms["local"])]), 2
    )
    result["speedup_2_vs_1_process"] = round(
        median([one / two for one, two in zip(seconds["celery_1_process"], seconds["celery_2_processes"])]), 2
    )
    result["payload"] = payload_bytes(sets[0])
    if args.sizing_photos:
        result["sizing"] = sizing_cost(args.sizing_photos)
    if args.report_detections:
        from report_scale import measure

        result["report_at_scale"] = measure(args.postgres, args.report_detections)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
