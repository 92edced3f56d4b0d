"""Turning photos (PIL images, arrays, files) into RGB uint8 arrays, and tiling boxes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from classifier.errors import ClassifierError


def to_rgb_array(image: Any) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array from a PIL image or an array (grey and RGBA are converted)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ClassifierError(f"expected an RGB image array (H, W, 3), got shape {array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    elif array.shape[-1] == 4:
        array = array[..., :3]
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode a photo file to RGB uint8 (EXIF orientation applied); raises OSError-like errors."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def tile_boxes(grid: int, overlap: float) -> list[tuple[float, float, float, float]]:
    """The whole photo first, then a grid x grid of overlapping tiles, as (x1, y1, x2, y2) fractions."""
    boxes = [(0.0, 0.0, 1.0, 1.0)]
    size = 1.0 / (grid - (grid - 1) * overlap)
    step = size * (1.0 - overlap)
    for row in range(grid):
        for col in range(grid):
            x1, y1 = col * step, row * step
            boxes.append((round(x1, 6), round(y1, 6), round(min(1.0, x1 + size), 6), round(min(1.0, y1 + size), 6)))
    return boxes


def tile_pixels(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """A fractional (x1, y1, x2, y2) box in whole pixels of a width x height photo, at least one pixel."""
    left, top = int(math.floor(box[0] * width)), int(math.floor(box[1] * height))
    right = max(int(math.ceil(box[2] * width)), left + 1)
    bottom = max(int(math.ceil(box[3] * height)), top + 1)
    return left, top, right, bottom
