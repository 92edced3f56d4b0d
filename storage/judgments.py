"""Analysts' judgments of photos (is the brand really there?) and the sample frame they are drawn from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.errors import StorageError
from storage.schema import Detection, Image, Judgment, ModelVersion, Source, Thumbnail, utcnow
from storage.statements import chunks, dialect_insert

MODES = ("sample", "uncertain")  # sample: the stratified random sample (audits use it); uncertain: training only
NO_DETECTION = ""  # the stratum of photos the model version detected no brand in

D, IMG, J, T, M, S = (
    Detection.__table__.c,
    Image.__table__.c,
    Judgment.__table__.c,
    Thumbnail.__table__.c,
    ModelVersion.__table__.c,
    Source.__table__.c,
)


@dataclass(frozen=True)
class Verdict:
    """One judgment to store: the photo (by id), a brand, and whether it really appears."""

    image_id: int
    brand: str
    present: bool


@dataclass(frozen=True)
class FramePhoto:
    """A photo of the sample frame: its stratum and what the model version detected, with confidences."""

    image_id: int
    sha256: str
    stratum: str
    detected: dict[str, float]


def save_judgments(
    db: Any, model_version_id: int, verdicts: Sequence[Verdict], mode: str, judged_by: str, when: datetime | None = None
) -> int:
    """Store (or update: judging again replaces the verdict) in one committed transaction; returns rows written."""
    if mode not in MODES:
        raise StorageError(f"unknown judgment mode {mode!r}; choose from {', '.join(MODES)}")
    if not verdicts:
        return 0
    when = when or utcnow()
    images = sorted({v.image_id for v in verdicts})
    with db.session(write=True) as session:
        found = {}
        for row in session.execute(
            select(D.image_id, D.brand, D.confidence).where(
                D.model_version_id == model_version_id, D.image_id.in_(images)
            )
        ):
            found.setdefault(row.image_id, {})[row.brand] = row.confidence
        known = set(session.scalars(select(IMG.id).where(IMG.id.in_(images))))
        missing = sorted(set(images) - known)
        if missing:
            raise StorageError(f"no stored photo with id {', '.join(map(str, missing[:5]))}")
        rows = [
            {
                "image_id": v.image_id,
                "brand": v.brand,
                "model_version_id": model_version_id,
                "present": bool(v.present),
                "detected": v.brand in found.get(v.image_id, {}),
                "mode": mode,
                "stratum": stratum_of(found.get(v.image_id, {})),
                "judged_by": judged_by[:200],
                "judged_at": when,
            }
            for v in verdicts
        ]
        rows.sort(key=lambda r: (r["image_id"], r["brand"]))
        statement = dialect_insert(session, Judgment.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["image_id", "brand", "model_version_id"],
            set_={
                name: statement.excluded[name]
                for name in ("present", "detected", "mode", "stratum", "judged_by", "judged_at")
            },
        )
        session.execute(statement, rows)
    return len(rows)


def stratum_of(detected: dict[str, float]) -> str:
    """A photo's stratum: the brand it was detected with most confidently (ties by name), or no detection."""
    if not detected:
        return NO_DETECTION
    return min(detected, key=lambda brand: (-detected[brand], brand))


def sample_frame(db: Any, model_version_id: int, include_reposts: bool = False) -> list[FramePhoto]:
    """Every accepted photo (reposts left out: near copies), with its stratum under the model version."""
    found: dict[int, dict[str, float]] = {}
    conditions = [IMG.status == "accepted"] + ([] if include_reposts else [IMG.repost_of_id.is_(None)])
    with db.session() as session:
        for row in session.execute(
            select(D.image_id, D.brand, D.confidence).where(D.model_version_id == model_version_id)
        ):
            found.setdefault(row.image_id, {})[row.brand] = float(row.confidence)
        photos = session.execute(select(IMG.id, IMG.sha256).where(*conditions).order_by(IMG.id)).all()
    return [FramePhoto(row.id, row.sha256, stratum_of(found.get(row.id, {})), found.get(row.id, {})) for row in photos]


def judgments(db: Any, model_version_id: int | None = None, mode: str | None = None) -> list[dict[str, Any]]:
    """Stored judgments (of one model version and mode when given), oldest first."""
    statement = select(
        J.image_id,
        J.brand,
        J.model_version_id,
        J.present,
        J.detected,
        J.mode,
        J.stratum,
        J.judged_by,
        J.judged_at,
        IMG.sha256,
        IMG.uri,
        S.name.label("source"),
    ).select_from(
        Judgment.__table__.join(Image.__table__, IMG.id == J.image_id).outerjoin(
            Source.__table__, S.id == IMG.source_id
        )
    )
    if model_version_id is not None:
        statement = statement.where(J.model_version_id == model_version_id)
    if mode is not None:
        statement = statement.where(J.mode == mode)
    with db.session() as session:
        return [dict(row) for row in session.execute(statement.order_by(J.judged_at, J.id)).mappings()]


def judged_counts(db: Any, model_version_id: int) -> dict[str, dict[str, int]]:
    """Photos judged per brand and mode for one model version: {brand: {mode: photos}}."""
    statement = (
        select(J.brand, J.mode, func.count().label("n"))
        .where(J.model_version_id == model_version_id)
        .group_by(J.brand, J.mode)
    )
    counts: dict[str, dict[str, int]] = {}
    with db.session() as session:
        for row in session.execute(statement):
            counts.setdefault(row.brand, {})[row.mode] = int(row.n)
    return counts


def photos_by_sha256(db: Any, hashes: Iterable[str]) -> dict[str, int]:
    """Stored photo ids by sha256, for the hashes that are stored."""
    hashes = sorted(set(hashes))
    found: dict[str, int] = {}
    with db.session() as session:
        for chunk in chunks(hashes):
            found.update(
                {row.sha256: row.id for row in session.execute(select(IMG.sha256, IMG.id).where(IMG.sha256.in_(chunk)))}
            )
    return found


def photo(db: Any, image_id: int) -> dict[str, Any] | None:
    """What the review page shows of one photo: where it came from (uri, source name), when, caption, thumbnail."""
    statement = (
        select(
            IMG.id,
            IMG.sha256,
            IMG.uri,
            IMG.posted_at,
            IMG.caption,
            IMG.place,
            IMG.author,
            IMG.width,
            IMG.height,
            T.jpeg,
            T.width.label("thumb_width"),
            T.height.label("thumb_height"),
            S.name.label("source"),
        )
        .select_from(
            Image.__table__.outerjoin(Thumbnail.__table__, T.image_id == IMG.id).outerjoin(
                Source.__table__, S.id == IMG.source_id
            )
        )
        .where(IMG.id == image_id)
    )
    with db.session() as session:
        row = session.execute(statement).mappings().first()
    return dict(row) if row else None


def model_version_classes(db: Any, model_version_id: int) -> dict[str, Any] | None:
    """A model version's classes, thresholds and created time, or None when unknown."""
    with db.session() as session:
        row = (
            session.execute(select(M.id, M.classes, M.thresholds, M.created_at).where(M.id == model_version_id))
            .mappings()
            .first()
        )
    return dict(row) if row else None


def newest_model_version(db: Any) -> int | None:
    """The newest model version id with any detection, or None."""
    with db.session() as session:
        return session.scalar(select(func.max(D.model_version_id)))
