"""Example photos picked at random (seeded) per brand and window, so they represent the detections."""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import Any, Iterable, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from storage.errors import StorageError
from storage.schema import Detection, Image, Source, Thumbnail

D, I, S, T = Detection.__table__.c, Image.__table__.c, Source.__table__.c, Thumbnail.__table__.c


def _engine(db: Any) -> Any:
    return db.engine if hasattr(db, "engine") else db


def sample_examples(db: Any, model_version_id: int, brands: Iterable[str], windows: Sequence[Any],
                    limit: int = 3, include_reposts: bool = False, seed: int = 0) -> list[dict[str, Any]]:
    """Up to `limit` photos per brand and window: the first detection after each of a few seeded random
    moments of the window (one index probe each, however many detections), highest reach first."""
    joined = (Detection.__table__.join(Image.__table__, I.id == D.image_id)
              .outerjoin(Thumbnail.__table__, T.image_id == D.image_id)
              .outerjoin(Source.__table__, S.id == D.source_id))
    accepted = [I.status == "accepted"] + ([] if include_reposts else [I.repost_of_id.is_(None)])
    columns = (D.brand.label("brand"), D.image_id.label("image_id"), D.confidence.label("confidence"),
               D.posted_at.label("posted_at"), I.uri.label("uri"), I.caption.label("caption"),
               I.place.label("place"), I.reach.label("reach"), S.name.label("source"), T.jpeg.label("jpeg"),
               T.width.label("width"), T.height.label("height"))
    rows: list[dict[str, Any]] = []
    try:
        with _engine(db).connect() as conn:
            for brand in brands:
                for n, w in enumerate(windows):
                    rng = np.random.default_rng([seed, zlib.crc32(brand.encode("utf-8")), n])
                    span = (w.end - w.start).total_seconds()
                    picked: dict[int, dict[str, Any]] = {}
                    for offset in sorted(rng.uniform(0, span, 4 * limit)):
                        if len(picked) >= limit:
                            break
                        moment = w.start + timedelta(seconds=float(offset))
                        statement = (select(*columns).select_from(joined)
                                     .where(D.model_version_id == model_version_id, D.brand == brand,
                                            D.posted_at >= moment, D.posted_at < w.end, *accepted)
                                     .order_by(D.posted_at).limit(1))
                        row = conn.execute(statement).mappings().first()
                        if row is not None and row["image_id"] not in picked:
                            picked[row["image_id"]] = {"window": w.name, **dict(row)}
                    rows.extend(sorted(picked.values(), key=lambda r: -(r["reach"] or -1)))
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None) or exc
        raise StorageError(f"report query failed: {str(original).splitlines()[0]}") from exc
    return rows
