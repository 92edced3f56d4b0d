"""Top posts: per brand and window, the detected photos with the most reach, with a safe link to each post."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from reports.errors import ReportError
from storage.redaction import redact_url
from storage.schema import Detection, Image, Source, Thumbnail

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


def load_top_posts(
    db: Any,
    version_id: int,
    brands: Sequence[str],
    windows: Sequence[Any],
    limit: int = 5,
    include_reposts: bool = False,
) -> pd.DataFrame:
    """Up to `limit` photos per brand and window, most reach first (photos without a reach are left out)."""
    joined = (
        Detection.__table__.join(Image.__table__, IMG.id == D.image_id)
        .outerjoin(Thumbnail.__table__, T.image_id == D.image_id)
        .outerjoin(Source.__table__, S.id == D.source_id)
    )
    columns = (D.image_id, D.posted_at, IMG.uri, IMG.caption, IMG.place, IMG.reach, S.name.label("source"), T.jpeg)
    accepted = [IMG.status == "accepted", IMG.reach.is_not(None)]
    accepted += [] if include_reposts else [IMG.repost_of_id.is_(None)]
    records = []
    try:
        with (db.engine if hasattr(db, "engine") else db).connect() as conn:
            for brand in brands:
                for w in windows:
                    statement = (
                        select(*columns)
                        .select_from(joined)
                        .where(
                            D.model_version_id == version_id,
                            D.brand == brand,
                            D.posted_at >= w.start,
                            D.posted_at < w.end,
                            *accepted,
                        )
                        .order_by(IMG.reach.desc(), D.posted_at, D.image_id)
                        .limit(limit)
                    )
                    for rank, row in enumerate(conn.execute(statement).mappings(), start=1):
                        records.append(
                            {**dict(row), "window": w.name, "brand": brand, "rank": rank, "link": safe_link(row["uri"])}
                        )
    except SQLAlchemyError as exc:
        raise ReportError(f"top posts query failed: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from exc
    return pd.DataFrame.from_records(records, columns=COLUMNS)
