"""The one cleaning boundary: every ref a source yields passes `clean_ref` before it is batched or stored.

A field that cannot be cleaned is dropped (None), never the photo: numbers finite and in range, text
without NUL or lone surrogates cut to its column, times in a sane range (a post from the future gets the
ingest time), places on the globe.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.sources.base import ImageRef
from storage.cleaning import BIGINT_MAX, clean_moment, clean_text, column_length, finite
from storage.schema import Image

log = logging.getLogger("monitor.sources")
FUTURE_SKEW = timedelta(minutes=10)  # clocks differ; later than this ahead of ours is not believed
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
CAPTION_CHARS = 10_000  # captions are Text, but a 300 MB sidecar caption must not reach the reports
_COLUMNS = Image.__table__


def clean_ref(
    ref: ImageRef, now: datetime | None = None, source: str = "?", allow_null_island: bool = False
) -> ImageRef:
    """The ref with every field storable; what cannot be cleaned is dropped (the photo is kept)."""
    now = now or datetime.now(UTC)
    latitude, longitude = clean_place(ref.latitude, ref.longitude, allow_null_island)
    uri = clean_text(ref.uri) or ""
    return replace(
        ref,
        uri=uri,
        external_id=clean_text(ref.external_id) or uri,
        posted_at=clean_posted(ref.posted_at, now, ref.uri, source),
        latitude=latitude,
        longitude=longitude,
        place=_text(ref.place, column_length(_COLUMNS, "place")),
        caption=_text(ref.caption, CAPTION_CHARS),
        author=_text(ref.author, column_length(_COLUMNS, "author")),
        reach=clean_reach(ref.reach),
    )


def clean_posted(moment: Any, now: datetime, uri: str = "", source: str = "?") -> datetime | None:
    """An aware UTC time no earlier than 1970; a time beyond `now` + the skew becomes `now` (with a warning)."""
    if not isinstance(moment, datetime):
        return None
    moment = clean_moment(moment) or datetime.max.replace(tzinfo=UTC)  # None: year 9999 with an offset
    if moment < EARLIEST:
        return None
    if moment > now + FUTURE_SKEW:
        log.warning(
            "source %s: %s is dated %s, in the future: stored with the ingest time",
            source,
            uri,
            moment.isoformat(timespec="seconds"),
        )
        return now
    return moment


def clean_place(latitude: Any, longitude: Any, allow_null_island: bool = False) -> tuple[float | None, float | None]:
    """Both coordinates on the globe, or neither; exactly 0,0 means unknown (feeds write it for "no place")
    unless the source says `allow_null_island`."""
    lat, lon = finite(latitude), finite(longitude)
    if lat is None or lon is None or not -90 <= lat <= 90 or not -180 <= lon <= 180:
        return None, None
    if lat == 0 and lon == 0 and not allow_null_island:
        return None, None
    return lat, lon


def clean_reach(value: Any) -> int | None:
    """A whole non-negative number a BIGINT holds, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= BIGINT_MAX else None
    number = finite(value)
    if number is None or not 0 <= number <= BIGINT_MAX:
        return None
    return int(number)


def _text(value: Any, limit: int | None) -> str | None:
    text = clean_text(value, limit) if value is not None else None
    return text.strip() or None if text is not None else None
