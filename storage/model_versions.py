"""Model versions: each classifier bundle that produced detections, registered once by checksum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from storage.engine import Database
from storage.schema import ModelVersion, utcnow
from storage.statements import dialect_insert


def register_model_version(
    db: Database,
    checksum: str,
    bundle_path: str,
    backbone: str,
    input_size: int,
    classes: Sequence[str],
    thresholds: dict[str, float],
    metrics: dict[str, Any] | None = None,
) -> int:
    """The id of the model version with this checksum, stored on first sight (safe under races)."""
    with db.session(write=True) as session:
        session.execute(
            dialect_insert(session, ModelVersion)
            .values(
                checksum=checksum,
                bundle_path=str(bundle_path),
                backbone=backbone,
                input_size=int(input_size),
                classes=list(classes),
                thresholds={k: float(v) for k, v in thresholds.items()},
                metrics=metrics or {},
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["checksum"])
        )
        return session.scalar(select(ModelVersion.id).where(ModelVersion.checksum == checksum))


def known_classes(db: Database) -> set[str]:
    """Every brand some registered model version can detect (empty before the first model is registered)."""
    with db.session() as session:
        return {str(brand) for classes in session.scalars(select(ModelVersion.classes)) for brand in classes or ()}
