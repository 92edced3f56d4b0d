"""Decode and check photos: pixel limit, EXIF orientation/time/GPS, sha256, perceptual hash, thumbnail."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

import imagehash
import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from monitor.errors import ImageRejected

_EXIF_DATETIME_ORIGINAL = 36867
_EXIF_OFFSET_TIME_ORIGINAL = 36881
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


@dataclass
class CheckedImage:
    """A decoded photo ready for the classifier, with what was read from its bytes."""

    sha256: str
    phash: str
    width: int  # after EXIF orientation, full resolution
    height: int
    image: Image.Image  # RGB for the classifier: reduced near `work_side`, or work_side x work_side when `square`
    posted_at: Optional[datetime] = None  # from EXIF DateTimeOriginal
    latitude: Optional[float] = None  # from EXIF GPS
    longitude: Optional[float] = None
    thumbnail: Optional[Image.Image] = None  # aspect kept, longest side `thumbnail_size`, when asked


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of the bytes."""
    return hashlib.sha256(data).hexdigest()


def check_image(data: bytes, max_pixels: int = 60_000_000, min_side: int = 32,
                work_side: Optional[int] = None, sha256: Optional[str] = None, square: bool = False,
                thumbnail_size: Optional[int] = None) -> CheckedImage:
    """Decode and validate `data`; raise ImageRejected(reason) for empty, not_an_image, truncated, too_large, too_small.

    `square` resizes the classifier's copy to work_side x work_side here (area averaging, as the
    classifier would), so that work runs in the decode threads instead of before inference.
    """
    if not data:
        raise ImageRejected("empty", "the file has no bytes")
    digest = sha256 or sha256_hex(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_large", str(exc)) from None
    except Image.DecompressionBombWarning as exc:
        raise ImageRejected("too_large", str(exc)) from None
    except UnidentifiedImageError:
        raise ImageRejected("not_an_image", "not a format Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("not_an_image", str(exc)) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected("too_large", f"{width}x{height} pixels is over the limit of {max_pixels}")
    if min(width, height) < min_side:
        raise ImageRejected("too_small", f"{width}x{height} pixels; the shorter side must be at least {min_side}")
    exif = _exif(image)
    if work_side and image.format == "JPEG":
        # Decode at a reduced DCT scale when the photo is far bigger than the classifier needs.
        image.draft("RGB", (work_side, work_side))
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected("too_large", str(exc)) from None
    except OSError as exc:
        text = str(exc)
        reason = "truncated" if "truncated" in text or "broken data stream" in text else "not_an_image"
        raise ImageRejected(reason, text) from None
    except (SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("truncated", str(exc) or type(exc).__name__) from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed orientation tag must not reject an otherwise fine photo
        pass
    oriented = _orientation_swaps(exif)
    full_w, full_h = (height, width) if oriented else (width, height)
    rgb = to_rgb(image)
    if work_side and not square and max(rgb.size) > work_side * 2:
        rgb.thumbnail((work_side * 2, work_side * 2), Image.Resampling.BILINEAR)
    thumb = None
    if thumbnail_size:
        thumb = rgb.copy()
        thumb.thumbnail((thumbnail_size, thumbnail_size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    posted_at, latitude, longitude = _exif_time_and_place(exif)
    phash = str(imagehash.phash(rgb))
    if work_side and square:
        rgb = rgb.resize((work_side, work_side), Image.Resampling.BOX)
    return CheckedImage(sha256=digest, phash=phash, width=full_w, height=full_h, image=rgb,
                        posted_at=posted_at, latitude=latitude, longitude=longitude, thumbnail=thumb)


def to_rgb(image: Image.Image) -> Image.Image:
    """An 8-bit RGB copy: alpha composited on white, 16-bit scaled down, CMYK and palettes converted."""
    mode = image.mode
    if mode in _SIXTEEN_BIT or mode == "I":
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if mode in _SIXTEEN_BIT or values.max(initial=0) > 255 else 1.0
        image = Image.fromarray(np.clip(values / scale, 0, 255).astype(np.uint8), "L")
    elif mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def thumbnail_jpeg(image: Image.Image, size: int = 256, quality: int = 80) -> tuple[bytes, int, int]:
    """JPEG bytes of a copy whose longest side is at most `size`, with its width and height."""
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue(), thumb.width, thumb.height


def _exif(image: Image.Image) -> Optional[Image.Exif]:
    try:
        return image.getexif()
    except Exception:  # corrupt EXIF blocks are common; the pixels may still be fine
        return None


def _orientation_swaps(exif: Optional[Image.Exif]) -> bool:
    try:
        return exif is not None and exif.get(0x0112) in (5, 6, 7, 8)
    except Exception:
        return False


def _exif_time_and_place(exif: Optional[Image.Exif]) -> tuple[Optional[datetime], Optional[float], Optional[float]]:
    if exif is None:
        return None, None, None
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception:
        return None, None, None
    return _exif_time(details), *_exif_gps(gps)


def _exif_time(details: dict) -> Optional[datetime]:
    raw = details.get(_EXIF_DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = details.get(_EXIF_OFFSET_TIME_ORIGINAL)
    tz = timezone.utc  # EXIF has no zone unless OffsetTimeOriginal says so; we take UTC
    if isinstance(offset, str) and len(offset.strip("\x00")) >= 6:
        text = offset.strip("\x00")
        try:
            sign = -1 if text[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))
        except ValueError:
            pass
    return moment.replace(tzinfo=tz).astimezone(timezone.utc)


def _exif_gps(gps: dict) -> tuple[Optional[float], Optional[float]]:
    try:
        lat = _degrees(gps[2], gps.get(1, "N"), "S")
        lon = _degrees(gps[4], gps.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


def _degrees(parts, ref, negative: str) -> float:
    d, m, s = (float(p) for p in parts)
    value = d + m / 60 + s / 3600
    ref = ref.decode() if isinstance(ref, bytes) else str(ref)
    return -value if ref.strip("\x00").upper() == negative else value
