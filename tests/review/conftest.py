"""A planted feed for review tests: photos on disk with known brands, detections with known error rates."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert

from storage.engine import Database
from storage.migrate import upgrade
from storage.schema import Detection, Image, ModelVersion, Source, Thumbnail

BRANDS = ("Acme", "Globex", "Initech")
COLOURS = {"Acme": (200, 30, 30), "Globex": (30, 160, 30), "Initech": (30, 30, 200)}


@dataclass
class Feed:
    """The database, its photos' truth by image id and sha256, and the photo files."""

    db: Database
    url: str
    truth: dict[int, dict[str, bool]]
    sha: dict[int, str]
    folder: Path  # the photo files, named photo-ID.jpg


def _jpeg(colour: tuple[int, int, int], comment: str, size: tuple[int, int] = (64, 48)) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, "JPEG", comment=comment)  # the comment makes each file unique
    return buffer.getvalue()


def plant_feed(
    url: str,
    folder: Path,
    photos: int = 60,
    seed: int = 0,
    prevalence: float = 0.15,
    recall: float = 0.8,
    fpr: float = 0.03,
    caption: str = "a photo",
    on_disk: bool = True,
    base_uri: str | None = None,
) -> Feed:
    """Migrate a fresh database and store photos whose true brands and detections are drawn from the seed."""
    rng = np.random.default_rng(seed)
    upgrade(url)
    db = Database(url)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    truth, sha, images, detections, thumbs = {}, {}, [], [], []
    for image_id in range(1, photos + 1):
        shows = {b: bool(rng.random() < prevalence) for b in BRANDS}
        found = {b: float(rng.uniform(0.5, 1)) for b in BRANDS if rng.random() < (recall if shows[b] else fpr)}
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        data = _jpeg(colour, f"photo {image_id}")
        path = folder / f"photo-{image_id}.jpg"
        if on_disk:
            path.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        truth[image_id], sha[image_id] = shows, digest
        posted = now - timedelta(hours=image_id)
        images.append(
            {
                "id": image_id,
                "source_id": 1,
                "sha256": digest,
                "uri": f"{base_uri}{path.name}" if base_uri else str(path),
                "posted_at": posted,
                "time_source": "source",
                "ingested_at": now,
                "status": "accepted",
                "caption": caption,
            }
        )
        for brand, confidence in found.items():
            detections.append(
                {
                    "image_id": image_id,
                    "brand": brand,
                    "confidence": confidence,
                    "model_version_id": 1,
                    "posted_at": posted,
                    "source_id": 1,
                    "created_at": now,
                }
            )
        if found:
            thumbs.append({"image_id": image_id, "jpeg": data, "width": 64, "height": 48})
    with db.engine.begin() as conn:
        conn.execute(
            insert(Source.__table__),
            [{"id": 1, "name": "inbox", "kind": "folder", "consecutive_failures": 0, "created_at": now}],
        )
        conn.execute(
            insert(ModelVersion.__table__),
            [
                {
                    "id": 1,
                    "checksum": "b" * 64,
                    "bundle_path": "/models/v1",
                    "backbone": "tiny",
                    "input_size": 64,
                    "classes": list(BRANDS),
                    "thresholds": {b: 0.5 for b in BRANDS},
                    "metrics": {},
                    "created_at": now,
                }
            ],
        )
        conn.execute(insert(Image.__table__), images)
        if detections:
            conn.execute(insert(Detection.__table__), detections)
        if thumbs:
            conn.execute(insert(Thumbnail.__table__), thumbs)
    return Feed(db, url, truth, sha, folder)


@pytest.fixture
def feed(sqlite_url: str, tmp_path: Path) -> Feed:
    """60 planted photos on SQLite, their files on disk."""
    planted = plant_feed(sqlite_url, tmp_path / "photos")
    yield planted
    planted.db.dispose()
