"""The one photo decoder (training, evaluation, prediction and the daemon): bytes or a file -> oriented RGB.

Formats come from an allowlist (anything else is refused before a decoder runs), the decoded size is checked
from the header against a memory budget, alpha is composited on white and 16-bit samples scaled to 8 bits.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.errors import ClassifierError, PhotoRejected
from classifier.tiling import tile_boxes, tile_pixels  # noqa: F401  (older imports of these names)

# Pillow format names per allowed family (the JPEG reader also opens MPO, the multi-picture JPEG of cameras).
FAMILIES = {"jpeg": ("JPEG",), "png": ("PNG",), "webp": ("WEBP",), "gif": ("GIF",), "bmp": ("BMP",), "tiff": ("TIFF",)}
# Signatures of formats that are never decoded, to say what a refused file is.
_KNOWN = (
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML/SVG"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
)
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")
# EXIF orientation -> the PIL transpose that shows the photo upright (as ImageOps.exif_transpose does).
_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}


@dataclass(frozen=True)
class DecodeLimits:
    """What a photo may be: formats, pixels, shorter side, and decoded bytes (pixels x channels x bytes)."""

    max_pixels: int = 60_000_000
    min_side: int = 1
    max_bytes: int = 256 * 2**20
    formats: tuple[str, ...] = tuple(FAMILIES)

    def pillow_formats(self) -> list[str]:
        unknown = sorted(set(self.formats) - set(FAMILIES))
        if unknown:
            raise ClassifierError(f"unknown image formats {unknown} (choose from: {', '.join(FAMILIES)})")
        return [name for family in self.formats for name in FAMILIES[family]]


DEFAULT_LIMITS = DecodeLimits()


@dataclass
class Photo:
    """A decoded photo: oriented RGB pixels (possibly reduced by `draft`), its full oriented size, its EXIF."""

    image: Any  # PIL RGB image
    width: int
    height: int
    format: str
    exif: Any = None  # PIL Image.Exif, or None when unreadable


def decoded_bytes(image: Any) -> int:
    """What decoding `image` will hold, from its header: pixels x channels x bytes per sample."""
    mode = image.mode
    tile_mode = ""
    try:
        args = image.tile[0].args if image.tile else ""
        tile_mode = args[0] if isinstance(args, tuple) else str(args)
    except (AttributeError, IndexError, TypeError):
        pass
    if mode in ("I", "F", "I;32"):
        sample = 4
    elif mode in _SIXTEEN_BIT or ";16" in str(tile_mode):
        sample = 2
    else:
        sample = 1
    channels = 4 if mode == "P" and "transparency" in image.info else (3 if mode == "P" else len(image.getbands()))
    return image.size[0] * image.size[1] * channels * sample


def _open(data: bytes, limits: DecodeLimits):
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=limits.pillow_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected("too_large", str(exc)) from None
    except UnidentifiedImageError:
        kind = next((name for magic, name in _KNOWN if data.lstrip()[: len(magic)] == magic), None)
        if kind is not None and kind.lower() not in limits.formats:  # an allowed format that fails: broken
            raise PhotoRejected(
                "format_not_allowed", f"{kind} is not an allowed photo format (allowed: {', '.join(limits.formats)})"
            ) from None
        raise PhotoRejected("not_an_image", "not a photo format this program reads") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoRejected("not_an_image", str(exc)) from None


def decode(source: bytes | str | Path, limits: DecodeLimits = DEFAULT_LIMITS, draft: int | None = None) -> Photo:
    """Decode and check a photo; PhotoRejected(reason) for empty, not_an_image, format_not_allowed,
    truncated, too_large, too_small. `draft` lets JPEG decode at a reduced scale near that many pixels."""
    from PIL import Image

    if isinstance(source, (str, Path)):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise PhotoRejected("unreadable", exc.strerror or str(exc)) from None
    else:
        data = source
    if not data:
        raise PhotoRejected("empty", "the file has no bytes")
    image = _open(data, limits)
    width, height = image.size
    if width * height > limits.max_pixels:
        raise PhotoRejected("too_large", f"{width}x{height} pixels is over the limit of {limits.max_pixels}")
    if min(width, height) < limits.min_side:
        raise PhotoRejected(
            "too_small", f"{width}x{height} pixels; the shorter side must be at least {limits.min_side}"
        )
    exif = _exif(image)
    if draft and image.format in ("JPEG", "MPO"):
        image.draft("RGB", (draft, draft))  # decode at a reduced DCT scale: far less memory and time
    cost = decoded_bytes(image)
    if cost > limits.max_bytes:
        raise PhotoRejected(
            "too_large",
            f"{width}x{height} {image.mode} needs {cost / 2**20:.0f} MiB to decode, "
            f"over the budget of {limits.max_bytes / 2**20:.0f} MiB",
        )
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise PhotoRejected("too_large", str(exc)) from None
    except OSError as exc:
        text = str(exc)
        reason = "truncated" if "truncated" in text or "broken data stream" in text else "not_an_image"
        raise PhotoRejected(reason, text) from None
    except (SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected("truncated", str(exc) or type(exc).__name__) from None
    orientation, kind = _orientation(exif), str(image.format)
    image = eight_bit(image)  # the wide original is freed before the RGB copy is made
    rgb = to_rgb(image)
    del image
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    full_w, full_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    return Photo(rgb, full_w, full_h, kind, exif)


def eight_bit(image: Any) -> Any:
    """16-bit and 32-bit grey scaled to 8-bit 'L' a band of rows at a time (no full-size wide copy); else `image`."""
    from PIL import Image

    mode = image.mode
    if mode not in _SIXTEEN_BIT and mode not in ("I", "F"):
        return image
    width, height = image.size
    divisor = 257 if mode in _SIXTEEN_BIT else (257 if mode == "I" and image.getextrema()[1] > 255 else 1)
    out = np.empty((height, width), np.uint8)
    step = max(1, (1 << 22) // max(width, 1))  # ~4 M samples a band
    for top in range(0, height, step):
        band = np.asarray(image.crop((0, top, width, min(height, top + step))))
        if divisor != 1:
            band = band // divisor
        out[top : top + step] = np.clip(band, 0, 255)
    return Image.fromarray(out, "L")


def to_rgb(image: Any) -> Any:
    """An 8-bit RGB copy of a PIL image: alpha composited on white, 16-bit scaled, CMYK and palettes converted."""
    from PIL import Image

    image = eight_bit(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in _ALPHA:
        rgba = image.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
        return out
    return image.convert("RGB") if image.mode != "RGB" else image


def to_rgb_array(image: Any) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array from a PIL image or an array (grey converted; alpha composited on white)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return np.asarray(to_rgb(image), dtype=np.uint8)
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ClassifierError(f"expected an RGB image array (H, W, 3), got shape {array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.shape[-1] == 4:
        return np.asarray(to_rgb(Image.fromarray(np.ascontiguousarray(array), "RGBA")), dtype=np.uint8)
    return np.ascontiguousarray(array)


def read_rgb(path: str | Path, limits: DecodeLimits = DEFAULT_LIMITS) -> np.ndarray:
    """A photo file as an oriented RGB uint8 array (see `decode`; raises PhotoRejected)."""
    return np.asarray(decode(path, limits).image, dtype=np.uint8)


def _exif(image: Any) -> Any:
    try:
        return image.getexif()
    except Exception:  # corrupt EXIF blocks are common; the pixels may still be fine
        return None


def _orientation(exif: Any) -> int | None:
    try:
        value = exif.get(0x0112) if exif is not None else None
        return int(value) if value is not None else None
    except Exception:
        return None
