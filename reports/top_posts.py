"""Top posts: per brand and window, the detected photos with the most reach, with a safe link to each post."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy import Integer, bindparam, select, text
from sqlalchemy.exc import SQLAlchemyError

from reports.errors import ReportError
from storage.redaction import redact_url
from storage.schema import Detection, Image, Source, Thumbnail, UTCDateTime

COLUMNS = ["window", "brand", "rank", "reach", "posted_at", "link", "place", "caption", "source", "image_id", "jpeg"]
D, IMG, S, T = Detection.__table__.c, Image.__table__.c, Source.__table__.c, Thumbnail.__table__.c


def safe_link(uri: Any) -> str:
    """The post's address when it is an http(s) URL with a host (secrets masked); '' for anything else."""
    if not isinstance(uri, str) or len(uri) > 2000:
        return ""
    text = uri.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
        return ""
    return redact_url(text)


# Walk photos from the most reach down (index ix_images_reach) and stop at `limit` showing the brand: a few
# index steps instead of sorting every detection. SQLite's planner must be told to use that index.
_RANKED = """
SELECT i.id AS image_id, i.posted_at AS posted_at FROM images i {hint}
WHERE i.status = 'accepted' AND i.reach IS NOT NULL {reposts}
  AND i.posted_at >= :start AND i.posted_at < :end
  AND EXISTS (SELECT 1 FROM detections d
              WHERE d.image_id = i.id AND d.brand = :brand AND d.model_version_id = :version)
ORDER BY i.reach DESC, i.id DESC
LIMIT :limit
"""


def _ranked(dialect: str, include_reposts: bool) -> Any:
    hint = "INDEXED BY ix_images_reach" if dialect == "sqlite" else ""
    sql = _RANKED.format(hint=hint, reposts="" if include_reposts else "AND i.repost_of_id IS NULL")
    statement = text(sql).bindparams(bindparam("start", type_=UTCDateTime), bindparam("end", type_=UTCDateTime))
    return statement.columns(image_id=Integer, posted_at=UTCDateTime)


def load_top_posts(
    db: Any,
    version_id: int,
    brands: Sequence[str],
    windows: Sequence[Any],
    limit: int = 5,
    include_reposts: bool = False,
) -> pd.DataFrame:
    """Up to `limit` photos per brand and window, most reach first (ties: newest first; no reach: left out)."""
    details = Image.__table__.outerjoin(Thumbnail.__table__, T.image_id == IMG.id).outerjoin(
        Source.__table__, S.id == IMG.source_id
    )
    columns = (IMG.id.label("image_id"), IMG.uri, IMG.caption, IMG.place, IMG.reach, S.name.label("source"), T.jpeg)
    records = []
    try:
        engine = db.engine if hasattr(db, "engine") else db
        ranked = _ranked(engine.dialect.name, include_reposts)
        with engine.connect() as conn:
            for brand in brands:
                for w in windows:
                    values = {"start": w.start, "end": w.end, "brand": brand, "version": version_id, "limit": limit}
                    chosen = conn.execute(ranked, values).all()
                    if not chosen:
                        continue
                    found = {
                        r["image_id"]: dict(r)
                        for r in conn.execute(
                            select(*columns).select_from(details).where(IMG.id.in_([c.image_id for c in chosen]))
                        ).mappings()
                    }
                    for rank, (image_id, posted_at) in enumerate(chosen, start=1):
                        row = found[image_id]
                        records.append(
                            {
                                **row,
                                "posted_at": posted_at,
                                "window": w.name,
                                "brand": brand,
                                "rank": rank,
                                "link": safe_link(row["uri"]),
                            }
                        )
    except SQLAlchemyError as exc:
        raise ReportError(f"top posts query failed: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from exc
    return pd.DataFrame.from_records(records, columns=COLUMNS)
