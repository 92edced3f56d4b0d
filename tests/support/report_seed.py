"""Seeding helpers for report tests: deterministic photos and detections with planted effects."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert

from storage.engine import Database
from storage.migrate import upgrade
from storage.rollups import rebuild_rollups
from storage.schema import Detection, FetchFailure, Image, ModelVersion, Source, Thumbnail

START = date(2026, 3, 2)  # campaign start (a Monday)
END = date(2026, 3, 15)  # 14 days
BASELINE_START = START - timedelta(days=14)
AFTER_END = END + timedelta(days=14)


@dataclass
class Campaign:
    """Duck-typed like monitor.config.CampaignSettings."""

    name: str = "spring"
    brand: str = "Acme"
    start: date = START
    end: date = END
    baseline_days: int | None = None
    after_days: int | None = None
    competitors: tuple[str, ...] = ("Globex",)


IMAGE_DEFAULTS = {
    "latitude": None,
    "longitude": None,
    "place": None,
    "caption": None,
    "reach": None,
    "reject_reason": None,
    "repost_of_id": None,
}


def window_of(day: date) -> str:
    return "before" if day < START else ("during" if day <= END else "after")


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def seed(
    url: str,
    images_per_day: Callable[[date], int],
    brands_per_day: Callable[[date], dict[str, int]],
    metrics: dict | None = None,
    places: tuple[str, ...] = ("Paris", "New York"),
    caption: str = "a photo",
    reach: int | None = 100,
    extra: bool = True,
    reposts: int = 0,
) -> Database:
    """Migrate a fresh database and plant photos: brand b is in the first n_b photos of each day."""
    upgrade(url)
    db = Database(url)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    metrics = (
        metrics
        if metrics is not None
        else {
            "per_brand": {
                "Acme": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "ap": 0.9, "support": 200},
                "Globex": {"precision": 0.95, "recall": 0.9, "f1": 0.92, "ap": 0.95, "support": 200},
            }
        }
    )
    images, detections, thumbs = [], [], []
    image_id = 0
    with db.engine.begin() as conn:
        conn.execute(
            insert(Source.__table__),
            [
                {
                    "id": 1,
                    "name": "feed-a",
                    "kind": "rss",
                    "consecutive_failures": 0,
                    "created_at": now,
                    "last_error": None,
                    "last_error_at": None,
                },
                {
                    "id": 2,
                    "name": "feed-b",
                    "kind": "folder",
                    "consecutive_failures": 3,
                    "created_at": now,
                    "last_error": "HTTP 503 from https://example.test/feed",
                    "last_error_at": datetime(2026, 3, 5, tzinfo=UTC),
                },
            ],
        )
        conn.execute(
            insert(ModelVersion.__table__),
            [
                {
                    "id": 1,
                    "checksum": "a" * 64,
                    "bundle_path": "/models/v1",
                    "backbone": "inception_v3",
                    "input_size": 299,
                    "classes": ["Acme", "Globex"],
                    "thresholds": {"Acme": 0.5, "Globex": 0.5},
                    "metrics": metrics,
                    "created_at": now,
                }
            ],
        )
        day = BASELINE_START
        thumb = _jpeg((200, 30, 30))
        while day < AFTER_END + timedelta(days=1):
            n = images_per_day(day)
            per_brand = brands_per_day(day)
            for k in range(n):
                image_id += 1
                posted = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=60 * k + 7)
                images.append(
                    {
                        **IMAGE_DEFAULTS,
                        "id": image_id,
                        "source_id": 1 + k % 2,
                        "sha256": f"{image_id:064x}",
                        "uri": f"https://example.test/p/{image_id}.jpg",
                        "posted_at": posted,
                        "time_source": "source",
                        "ingested_at": now,
                        "place": places[k % len(places)],
                        "latitude": 48.85 if k % 2 == 0 else 40.71,
                        "longitude": 2.35 if k % 2 == 0 else -74.0,
                        "caption": caption,
                        "reach": reach,
                        "status": "accepted",
                    }
                )
                for brand, count in per_brand.items():
                    if k < count:
                        detections.append(
                            {
                                "image_id": image_id,
                                "brand": brand,
                                "confidence": 0.6 + 0.3 * (k % 7) / 7,
                                "model_version_id": 1,
                                "posted_at": posted,
                                "source_id": 1 + k % 2,
                                "created_at": now,
                            }
                        )
                if per_brand and k < max(per_brand.values()):  # photos with a detection keep a thumbnail
                    thumbs.append({"image_id": image_id, "jpeg": thumb, "width": 64, "height": 48})
            first_of_day = image_id - n + 1
            for _ in range(reposts if n else 0):  # near-copies of the day's first photo, showing Acme
                image_id += 1
                posted = datetime.combine(day, time(23), tzinfo=UTC)
                images.append(
                    {
                        **IMAGE_DEFAULTS,
                        "id": image_id,
                        "source_id": 1,
                        "sha256": f"{image_id:064x}",
                        "uri": "repost",
                        "posted_at": posted,
                        "ingested_at": now,
                        "time_source": "source",
                        "status": "accepted",
                        "repost_of_id": first_of_day,
                        "reach": reach,
                    }
                )
                detections.append(
                    {
                        "image_id": image_id,
                        "brand": "Acme",
                        "confidence": 0.7,
                        "model_version_id": 1,
                        "posted_at": posted,
                        "source_id": 1,
                        "created_at": now,
                    }
                )
            if extra:  # a rejected photo a day, and a repost of the day's first photo
                image_id += 1
                images.append(
                    {
                        **IMAGE_DEFAULTS,
                        "id": image_id,
                        "source_id": 1,
                        "sha256": f"{image_id:064x}",
                        "uri": "x",
                        "posted_at": datetime.combine(day, time(12), tzinfo=UTC),
                        "ingested_at": now,
                        "time_source": "source",
                        "status": "rejected",
                        "reject_reason": "too_small",
                    }
                )
            day += timedelta(days=1)
        for table, rows in ((Image, images), (Detection, detections), (Thumbnail, thumbs)):
            if rows:
                conn.execute(insert(table.__table__), rows)
        conn.execute(
            insert(FetchFailure.__table__),
            [
                {
                    "source_id": 2,
                    "uri": "https://example.test/broken.jpg",
                    "reason": "timeout",
                    "attempts": 3,
                    "uri_sha256": hashlib.sha256(b"https://example.test/broken.jpg").hexdigest(),
                    "first_at": datetime(2026, 3, 4, tzinfo=UTC),
                    "last_at": datetime(2026, 3, 4, 1, tzinfo=UTC),
                }
            ],
        )
        rebuild_rollups(conn)  # rows went in raw, around save_batch: count them into the rollups reports read
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them, or a later real write
            for table in ("sources", "model_versions", "images"):  # collides with them (and is refused)
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    return db
