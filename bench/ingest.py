"""Ingest benchmark (JSON): end-to-end photos/s against the classifier alone, memory with volume, re-poll time.

Usage: python bench/ingest.py WORKDIR [--photos 2000] [--memory-photos 10000] [--skip-memory]

1. throughput: a folder of `--photos` generated 640x480 JPEGs is ingested end to end (read, hash,
   decode, classify with InceptionV3 at 299 px, weights none, store in SQLite); the same photos,
   decoded beforehand, go through LogoClassifier.predict alone in the same process. Target ratio >= 0.80.
2. memory: the pipeline runs in a fresh subprocess over 2,000 and over `--memory-photos` photos
   (MobileNet-0.25 at 128 px, to keep the run short; say so when quoting) and reports ru_maxrss.
3. re-poll: in the large run's subprocess, a second pass over the unchanged folder is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from photos import photo_folder  # noqa: E402  (bench/photos.py, beside this script)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
BRANDS = ["acme", "globex", "initech", "umbrella"]
MEMORY_MODEL = ("mobilenet_v1_025", 128)  # small, so the 10,000-photo memory run stays short


def first_photos(folder: Path, count: int, rounds: int = 4) -> list[Path]:
    """`count` photos under `folder`, split into `rounds` subfolders."""
    per_round = count // rounds
    return [photo_folder(folder / f"r{k}", per_round, first_seed=k * per_round) for k in range(rounds)]


def _settings(
    workdir: Path,
    folder: Path,
    db_name: str,
    bundle: Path,
    batch_size: int = 32,
    sources: dict[str, Path] | None = None,
):
    from monitor.config import parse_settings

    sources = sources or {"bench": folder}

    data = {
        "database": {"url": f"sqlite:///{workdir / db_name}"},
        "classifier": {"model": str(bundle), "batch_size": batch_size},
        "ingest": {"batch_size": batch_size},
        "paths": {"cache": str(workdir / f"cache-{db_name}")},
        # settle_seconds 0: the photos are complete when the bench starts; it times the pipeline, not uploads
        "sources": [
            {"name": name, "kind": "folder", "path": str(path), "settle_seconds": 0} for name, path in sources.items()
        ],
    }
    return parse_settings(data, "bench", workdir)


def _fresh_db(workdir: Path, name: str) -> None:
    import shutil

    for suffix in ("", "-wal", "-shm"):
        (workdir / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(workdir / f"cache-{name}", ignore_errors=True)


def _bundle(workdir: Path, backbone: str, size: int) -> Path:
    from classifier import LogoClassifier

    path = workdir / f"bundle-{backbone}-{size}"
    if not (path / "bundle.json").exists():
        LogoClassifier.create(BRANDS, backbone=backbone, weights="none", input_size=size).save(path)
    return path


def throughput(workdir: Path, photos: int, rounds: int = 4) -> dict:
    """End to end vs the classifier alone, InceptionV3 at 299 px, same photos, same process.

    The photos are split into `rounds` folders and the two timings alternate round by round, so a
    change in machine load during the run weighs on both sides alike.
    """
    import numpy as np
    from PIL import Image

    from classifier import LogoClassifier
    from monitor.model import load_model
    from monitor.pipeline import ingest_once
    from storage.engine import open_database
    from storage.migrate import upgrade

    folders = first_photos(workdir / f"photos-throughput-{photos}", photos, rounds)
    per_round = photos // rounds
    bundle = _bundle(workdir, "inception_v3", 299)
    classifier = LogoClassifier.load(bundle)
    warm = [np.asarray(Image.open(f).convert("RGB")) for f in sorted(folders[0].glob("*.jpg"))[:32]]
    classifier.predict(warm, batch_size=32)  # trace the tf.function outside the timings

    _fresh_db(workdir, "throughput.db")
    settings = _settings(
        workdir,
        folders[0],
        "throughput.db",
        bundle,
        sources={f"bench-r{k}": folder for k, folder in enumerate(folders)},
    )
    upgrade(settings.database.url)
    db = open_database(settings.database.url)
    alone = end_to_end = 0.0
    stored = 0
    try:
        model = load_model(settings, db, classifier)
        for k, folder in enumerate(folders):
            decoded = [np.asarray(Image.open(f).convert("RGB")) for f in sorted(folder.glob("*.jpg"))]
            started = time.perf_counter()
            classifier.predict(decoded, batch_size=32)
            alone += time.perf_counter() - started
            del decoded
            started = time.perf_counter()
            stored += ingest_once(settings, [f"bench-r{k}"], db=db, model=model)[0].new
            end_to_end += time.perf_counter() - started
    finally:
        db.dispose()
    total = per_round * rounds
    assert stored == total, stored
    return {
        "photos": total,
        "rounds": rounds,
        "backbone": "inception_v3",
        "input_size": 299,
        "weights": "none",
        "classifier_alone_photos_per_s": round(total / alone, 2),
        "end_to_end_photos_per_s": round(total / end_to_end, 2),
        "ratio": round(alone / end_to_end, 3),
        "target_ratio": 0.8,
    }


def child_memory(workdir: Path, folder: Path, db_name: str) -> dict:
    """(In a subprocess) ingest a folder with the small model; peak RSS and a timed second pass."""
    from monitor.model import load_model
    from monitor.pipeline import ingest_once
    from monitor.sources.base import SourceContext
    from monitor.sources.registry import build_source
    from storage.engine import open_database
    from storage.migrate import upgrade

    bundle = _bundle(workdir, *MEMORY_MODEL)
    _fresh_db(workdir, db_name)
    settings = _settings(workdir, folder, db_name, bundle)
    upgrade(settings.database.url)
    db = open_database(settings.database.url)
    try:
        model = load_model(settings, db)
        started = time.perf_counter()
        summary = ingest_once(settings, db=db, model=model)[0]
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        again = ingest_once(settings, db=db, model=model)[0]
        second_pass = time.perf_counter() - started
        from storage.sources import ensure_source, get_cursor

        source = build_source(settings.sources[0], SourceContext.from_settings(settings))
        cursor = get_cursor(db, ensure_source(db, "bench", "folder"))
        started = time.perf_counter()
        pending = sum(1 for _ in source.poll(cursor))
        poll_only = time.perf_counter() - started
        source.close()
    finally:
        db.dispose()
    return {
        "photos": summary.new,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "second_pass_new": again.new,
        "second_pass_s": round(second_pass, 3),
        "poll_only_s": round(poll_only, 3),
        "poll_only_refs": pending,
        "cursor_bytes": len(json.dumps(cursor)),
    }


def memory(workdir: Path, small: int, large: int) -> dict:
    """Peak RSS of fresh processes over `small` and `large` photos, and the re-poll of the large folder."""
    photos = workdir / f"photos-memory-{large}"
    first_photos(photos / "first", small)
    photo_folder(photos / "rest", large - small, first_seed=small)
    runs = {}
    for label, folder in (("small", photos / "first"), ("large", photos)):
        out = subprocess.run(
            [sys.executable, __file__, str(workdir), "--child-memory", str(folder), "--child-db", f"memory-{label}.db"],
            capture_output=True,
            text=True,
            check=True,
        )
        runs[label] = json.loads(out.stdout.strip().splitlines()[-1])
    growth = runs["large"]["peak_rss_mb"] / runs["small"]["peak_rss_mb"] - 1
    return {
        "backbone": MEMORY_MODEL[0],
        "input_size": MEMORY_MODEL[1],
        "weights": "none",
        "small": runs["small"],
        "large": runs["large"],
        "rss_growth": round(growth, 3),
        "target_growth": 0.10,
        "second_poll_unchanged_s": runs["large"]["second_pass_s"],
        "target_second_poll_s": 2.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--memory-photos", type=int, default=10_000)
    parser.add_argument("--memory-small", type=int, default=2000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--child-memory", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.child_memory:
        print(json.dumps(child_memory(args.workdir, args.child_memory, args.child_db)))
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    result: dict = {"cpu_count": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    if not args.skip_memory:
        result["memory"] = memory(args.workdir, args.memory_small, args.memory_photos)
        print(json.dumps({"memory": result["memory"]}), file=sys.stderr, flush=True)
    if not args.skip_throughput:
        result["throughput"] = throughput(args.workdir, args.photos)
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
