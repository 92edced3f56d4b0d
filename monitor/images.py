"""Check photos for the daemon: decoding (classifier.images), EXIF time/GPS, sha256, perceptual hash, thumbnail."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import imagehash
from PIL import ExifTags, Image

from classifier.errors import PhotoRejected
from classifier.images import FAMILIES, DecodeLimits, decode
from monitor.errors import ImageRejected
from monitor.sources.clean import clean_place

_EXIF_DATETIME_ORIGINAL = 36867
_EXIF_OFFSET_TIME_ORIGINAL = 36881


@dataclass
class CheckedImage:
    """A decoded photo ready for the classifier, with what was read from its bytes."""

    sha256: str
    phash: str
    width: int  # after EXIF orientation, full resolution
    height: int
    image: Image.Image  # RGB for the classifier: reduced near `work_side`, or work_side x work_side when `square`
    posted_at: datetime | None = None  # from EXIF DateTimeOriginal
    latitude: float | None = None  # from EXIF GPS
    longitude: float | None = None
    thumbnail: Image.Image | None = None  # aspect kept, longest side `thumbnail_size`, when asked


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of the bytes."""
    return hashlib.sha256(data).hexdigest()


DRAFT_MARGIN = 4  # the whole-photo copy is decoded at full scale up to this many times its side


def _reduced(image: Image.Image, side: int) -> Image.Image:
    """`image` box-reduced by a whole factor while its shorter side stays at least `side` (itself if small)."""
    factor = min(image.size) // side
    return image.reduce(factor) if factor >= 2 else image


def check_image(
    data: bytes,
    max_pixels: int = 60_000_000,
    min_side: int = 32,
    work_side: int | None = None,
    sha256: str | None = None,
    square: bool = False,
    thumbnail_size: int | None = None,
    formats: Sequence[str] = tuple(FAMILIES),
    max_decode_mb: int = 256,
) -> CheckedImage:
    """Decode (classifier.images.decode, the one decoder) and validate `data`; raise ImageRejected(reason) for
    empty, not_an_image, format_not_allowed, truncated, too_large, too_small.

    `square` resizes the classifier's copy to work_side x work_side here (area averaging, as the
    classifier would), so that work runs in the decode threads instead of before inference.
    """
    if not data:
        raise ImageRejected("empty", "the file has no bytes")
    digest = sha256 or sha256_hex(data)
    limits = DecodeLimits(
        max_pixels=max_pixels, min_side=min_side, max_bytes=int(max_decode_mb) * 2**20, formats=tuple(formats)
    )
    try:
        # A JPEG decoded at a reduced DCT scale gives other pixels than training and `monitor evaluate` saw
        # (on the demo, decoded at 1/2, 1-2% of decisions moved, most to a detection), so the counts drift from
        # the error rates the report corrects with. The whole-photo copy is decoded at full scale up to
        # DRAFT_MARGIN x its side; larger photos at a DCT scale that keeps that much (measured on 3,000-px
        # photos at 299 px: 0.1 grey levels of 255 from the full decode on average, against 1.6 at 1x).
        photo = decode(data, limits, draft=work_side * DRAFT_MARGIN if square and work_side else work_side)
    except PhotoRejected as exc:
        raise ImageRejected(exc.reason, exc.detail) from None
    rgb = photo.image
    if work_side and not square and max(rgb.size) > work_side * 2:
        rgb.thumbnail((work_side * 2, work_side * 2), Image.Resampling.BILINEAR)
    # the perceptual hash and the thumbnail from an integer-reduced copy: both shrink far further anyway
    small = _reduced(rgb, max(work_side or 0, thumbnail_size or 0, 256))
    thumb = None
    if thumbnail_size:
        thumb = small.copy()
        thumb.thumbnail((thumbnail_size, thumbnail_size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    posted_at, latitude, longitude = _exif_time_and_place(photo.exif)
    phash = str(imagehash.phash(small))
    if work_side and square:
        rgb = rgb.resize((work_side, work_side), Image.Resampling.BOX)
    return CheckedImage(
        sha256=digest,
        phash=phash,
        width=photo.width,
        height=photo.height,
        image=rgb,
        posted_at=posted_at,
        latitude=latitude,
        longitude=longitude,
        thumbnail=thumb,
    )


def thumbnail_jpeg(image: Image.Image, size: int = 256, quality: int = 80) -> tuple[bytes, int, int]:
    """JPEG bytes of a copy whose longest side is at most `size`, with its width and height."""
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue(), thumb.width, thumb.height


def _exif_time_and_place(exif: Image.Exif | None) -> tuple[datetime | None, float | None, float | None]:
    if exif is None:
        return None, None, None
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:
        return None, None, None
    return _exif_time(details), *_exif_gps(gps)


def _exif_time(details: dict) -> datetime | None:
    raw = details.get(_EXIF_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = details.get(_EXIF_OFFSET_TIME_ORIGINAL)
    tz = UTC  # EXIF has no zone unless OffsetTimeOriginal says so; we take UTC
    if isinstance(offset, str) and len(offset.strip("\x00")) >= 6:
        text = offset.strip("\x00")
        try:
            sign = -1 if text[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
        except ValueError:
            pass
    try:
        return moment.replace(tzinfo=tz).astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved past the calendar's end by the offset: drop the date only
        return None


def _exif_gps(gps: dict) -> tuple[float | None, float | None]:
    try:
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, None
    # The sources' own rule: on the globe and finite, both or neither; exactly 0,0 is what cameras and apps
    # write for "no fix".
    return clean_place(lat, lon)


def _degrees(parts, ref, negative: str) -> float:
    d, m, s = (float(p) for p in parts)
    value = d + m / 60 + s / 3600
    ref = ref.decode() if isinstance(ref, bytes) else str(ref)
    return -value if ref.strip("\x00").upper() == negative else value
