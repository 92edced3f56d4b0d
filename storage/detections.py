"""Detections of stored photos: once per (image, brand, model version), with the photo's time and source copied,
counted into the rollups as they are inserted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.records import DetectionRecord
from storage.rollups import add_detections
from storage.schema import Detection, Image, utcnow
from storage.statements import chunks, dialect_insert

# What detections copy from their photo, and what the rollups count them by.
_IMAGE_FACTS = (Image.id, Image.posted_at, Image.source_id, Image.status, Image.place, Image.reach, Image.repost_of_id)


def stored_images(session: Session, hashes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id, posted_at, source_id, status, place, reach and repost_of_id of stored images by sha256."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(hashes):
        for row in session.execute(select(Image.sha256, *_IMAGE_FACTS).where(Image.sha256.in_(chunk))):
            found[row.sha256] = row._asdict()
    return found


def save_detections_in(
    session: Session, model_version_id: int, found: dict[int, list[DetectionRecord]]
) -> dict[str, int]:
    """Store a model version's detections of stored accepted photos (image id -> detections) once per
    (image, brand, model), with the photo's time and source; ids of missing or rejected photos are
    skipped. Returns the detections inserted, by brand."""
    images: dict[int, dict[str, Any]] = {}
    for chunk in chunks(sorted(found)):
        query = select(*_IMAGE_FACTS).where(Image.id.in_(chunk))
        images.update((row.id, row._asdict()) for row in session.execute(query))
    pairs = [
        (images[image_id], detection)
        for image_id in sorted(found)
        if image_id in images and images[image_id]["status"] == "accepted"
        for detection in found[image_id]
    ]
    return insert_detections(session, model_version_id, pairs)


def insert_detections(
    session: Session, model_version_id: int | None, found: Sequence[tuple[dict[str, Any], DetectionRecord]]
) -> dict[str, int]:
    """Insert (stored photo, detection) pairs not stored yet; count the new ones into the rollup, by brand."""
    if not found:
        return {}
    if model_version_id is None:
        raise StorageError("detections need a model version: register the model bundle first")
    rows = []
    for image, detection in found:
        box = detection.box or (None, None, None, None)
        rows.append(
            {
                "image_id": image["id"],
                "brand": detection.brand,
                "confidence": float(detection.confidence),
                "model_version_id": model_version_id,
                "posted_at": image["posted_at"],
                "source_id": image["source_id"],
                "box_x1": box[0],
                "box_y1": box[1],
                "box_x2": box[2],
                "box_y2": box[3],
                "created_at": utcnow(),
            }
        )
    rows.sort(key=lambda row: (row["image_id"], row["brand"]))
    table = Detection.__table__
    statement = (
        dialect_insert(session, table)
        .on_conflict_do_nothing(index_elements=["image_id", "brand", "model_version_id"])
        .returning(table.c.image_id, table.c.brand)
    )
    inserted = session.execute(statement, rows).all()
    images = {image["id"]: image for image, _ in found}
    add_detections(session, model_version_id, [(images[image_id], brand) for image_id, brand in inserted])
    return dict(sorted(Counter(brand for _, brand in inserted).items()))
