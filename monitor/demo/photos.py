"""One generated photo: a scene, distractors, and zero to two logos drawn with varied looks."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from monitor.demo.logos import MASTER, lockup, symbol
from monitor.demo.scenes import HEIGHT, WIDTH, add_distractors, random_colour, scene, soften


@dataclass(frozen=True)
class PlacedLogo:
    """Where a logo landed in a photo and how it was drawn (the generator's ground truth)."""

    brand: str
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels
    size: int  # the symbol's side in pixels before rotation
    angle: float
    occluded: bool


def _warp(logo: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """A perspective change: the logo seen from a little to the side."""
    w, h = logo.size
    jitter = rng.uniform(-strength, strength, 8) * np.array([w, h] * 4)
    corners = np.array([0, 0, 0, h, w, h, w, 0], dtype=np.float64) + jitter
    return logo.transform((w, h), Image.Transform.QUAD, tuple(corners), Image.Resampling.BILINEAR)


def _logo_instance(brand: str, rng: np.random.Generator, size: int) -> tuple[Image.Image, float]:
    """The brand's logo at `size` pixels with rotation, perspective, lighting and blur applied."""
    art = lockup(brand) if rng.random() < 0.35 else symbol(brand)
    scale = size / MASTER
    logo = art.resize((max(8, round(art.width * scale)), max(8, round(art.height * scale))), Image.Resampling.LANCZOS)
    if rng.random() < 0.6:
        logo = _warp(logo, rng, 0.12)
    angle = float(rng.uniform(-35, 35)) if rng.random() < 0.7 else 0.0
    if angle:
        logo = logo.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    rgb, alpha = logo.convert("RGB"), logo.getchannel("A")
    rgb = ImageEnhance.Brightness(rgb).enhance(float(rng.uniform(0.6, 1.25)))
    rgb = ImageEnhance.Color(rgb).enhance(float(rng.uniform(0.6, 1.2)))
    if rng.random() < 0.25:
        radius = float(rng.uniform(0.4, 1.5))
        rgb, alpha = rgb.filter(ImageFilter.GaussianBlur(radius)), alpha.filter(ImageFilter.GaussianBlur(radius))
    if rng.random() < 0.5:  # translucent print or glare
        alpha = alpha.point(lambda a, k=float(rng.uniform(0.75, 1.0)): int(a * k))
    logo = rgb.convert("RGBA")
    logo.putalpha(alpha)
    return logo, angle


def _overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    return any(not (box[2] <= o[0] or o[2] <= box[0] or box[3] <= o[1] or o[3] <= box[1]) for o in others)


def _occlude(canvas: Image.Image, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """Cover part of a logo (a pole, a hand, another object) without hiding most of it."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    fill = tuple(int(v) for v in random_colour(rng, (0.0, 0.6), (0.1, 0.9)))
    draw = ImageDraw.Draw(canvas)
    if rng.random() < 0.5:  # a vertical or horizontal bar
        if rng.random() < 0.5:
            bw = int(w * rng.uniform(0.1, 0.25))
            bx = x1 + int(rng.uniform(0.1, 0.8) * w)
            draw.rectangle((bx, y1 - 5, bx + bw, y2 + 5), fill=fill)
        else:
            bh = int(h * rng.uniform(0.1, 0.25))
            by = y1 + int(rng.uniform(0.1, 0.8) * h)
            draw.rectangle((x1 - 5, by, x2 + 5, by + bh), fill=fill)
    else:  # a blob over one corner
        cx = x1 if rng.random() < 0.5 else x2
        cy = y1 if rng.random() < 0.5 else y2
        r = min(w, h) * rng.uniform(0.25, 0.45)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)


def make_photo(
    rng: np.random.Generator, brands: list[str], min_size: int = 70, max_size: int = 170
) -> tuple[Image.Image, list[PlacedLogo]]:
    """A WIDTH x HEIGHT RGB photo showing the given brands (none, one or two)."""
    canvas = scene(rng)
    add_distractors(canvas, rng, int(rng.integers(0, 3)))
    canvas = canvas.convert("RGBA")
    placed: list[PlacedLogo] = []
    boxes: list[tuple[int, int, int, int]] = []
    for brand in brands:
        # log-uniform sizes: as many small logos as large ones; two logos share the frame
        top = max_size if len(brands) == 1 else int(max_size * 0.75)
        size = int(math.exp(rng.uniform(math.log(min_size), math.log(top))))
        logo, angle = _logo_instance(brand, rng, size)
        for _attempt in range(20):
            x = int(rng.integers(-logo.width // 8, max(1, WIDTH - logo.width + logo.width // 8)))
            y = int(rng.integers(-logo.height // 8, max(1, HEIGHT - logo.height + logo.height // 8)))
            box = (x, y, x + logo.width, y + logo.height)
            if not _overlaps(box, boxes):
                break
        canvas.alpha_composite(logo, (max(x, 0), max(y, 0)), (max(-x, 0), max(-y, 0)))
        box = (max(x, 0), max(y, 0), min(x + logo.width, WIDTH), min(y + logo.height, HEIGHT))
        occluded = bool(rng.random() < 0.25)
        if occluded:
            _occlude(canvas, box, rng)
        boxes.append(box)
        placed.append(PlacedLogo(brand, box, size, angle, occluded))
    return soften(canvas.convert("RGB"), rng), placed


def jpeg_bytes(image: Image.Image, rng: np.random.Generator) -> bytes:
    """The photo as JPEG bytes at a random everyday quality."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(75, 93)))
    return buffer.getvalue()
