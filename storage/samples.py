"""Example photos picked at random (seeded) per brand and window, so they represent the detections."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from storage.errors import StorageError
from storage.redaction import redact_url
from storage.schema import Detection, Image, Source, Thumbnail

D, IMG, S, T = Detection.__table__.c, Image.__table__.c, Source.__table__.c, Thumbnail.__table__.c


def _engine(db: Any) -> Any:
    return db.engine if hasattr(db, "engine") else db


def sample_examples(
    db: Any,
    model_version_id: int,
    brands: Iterable[str],
    windows: Sequence[Any],
    limit: int = 3,
    include_reposts: bool = False,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Up to `limit` photos per brand and window drawn uniformly (seeded) from its detections, highest reach first.

    Ranks are drawn among the detections, located by an index-only OFFSET on (model, brand, posted_at);
    the photo shown is the first accepted one from that rank on (a repost is skipped, not shown)."""
    joined = (
        Detection.__table__.join(Image.__table__, IMG.id == D.image_id)
        .outerjoin(Thumbnail.__table__, T.image_id == D.image_id)
        .outerjoin(Source.__table__, S.id == D.source_id)
    )
    accepted = [IMG.status == "accepted"] + ([] if include_reposts else [IMG.repost_of_id.is_(None)])
    columns = (
        D.brand.label("brand"),
        D.image_id.label("image_id"),
        D.confidence.label("confidence"),
        D.posted_at.label("posted_at"),
        IMG.uri.label("uri"),
        IMG.caption.label("caption"),
        IMG.place.label("place"),
        IMG.reach.label("reach"),
        S.name.label("source"),
        T.jpeg.label("jpeg"),
        T.width.label("width"),
        T.height.label("height"),
    )
    rows: list[dict[str, Any]] = []
    try:
        with _engine(db).connect() as conn:
            for brand in brands:
                for n, w in enumerate(windows):
                    where = (
                        D.model_version_id == model_version_id,
                        D.brand == brand,
                        D.posted_at >= w.start,
                        D.posted_at < w.end,
                    )
                    total = conn.execute(select(func.count()).select_from(Detection.__table__).where(*where)).scalar()
                    rng = np.random.default_rng([seed, zlib.crc32(brand.encode("utf-8")), n])
                    picked: dict[int, dict[str, Any]] = {}
                    for rank in sorted(rng.choice(total, min(total, 2 * limit), replace=False)) if total else []:
                        moment = conn.execute(
                            select(D.posted_at).where(*where).order_by(D.posted_at).offset(int(rank)).limit(1)
                        ).scalar()
                        statement = (
                            select(*columns)
                            .select_from(joined)
                            .where(*where[:2], D.posted_at >= moment, D.posted_at < w.end, *accepted)
                            .order_by(D.posted_at)
                            .limit(1)
                        )
                        row = conn.execute(statement).mappings().first()
                        if row is not None and row["image_id"] not in picked:
                            # A feed's URL may carry a key or a signature: never in a report in clear.
                            picked[row["image_id"]] = {"window": w.name, **dict(row), "uri": redact_url(row["uri"])}
                    chosen = list(picked.values())
                    chosen = [chosen[i] for i in sorted(rng.permutation(len(chosen))[:limit])]
                    rows.extend(sorted(chosen, key=lambda r: -(r["reach"] or -1)))
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None) or exc
        raise StorageError(f"report query failed: {str(original).splitlines()[0]}") from exc
    return rows
