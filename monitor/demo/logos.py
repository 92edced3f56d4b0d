"""Four fictional brands and the logos the demo draws for them with Pillow (no real trademarks)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageChops, ImageDraw, ImageFont

MASTER = 160  # side of the drawn logo, in pixels, before it is scaled into a photo
_SUPER = 3  # drawn this many times larger, then downsampled, for smooth edges


@dataclass(frozen=True)
class Brand:
    """A fictional brand: its name, its role in the demo, and how its logo looks."""

    name: str
    role: str  # "own", "flat", "drift" or "other"
    colour: tuple[int, int, int]
    shape: str
    wordmark: str


BRANDS: tuple[Brand, ...] = (
    Brand("Acme Cola", "own", (214, 40, 40), "circle_wave", "ACME"),
    Brand("Hexo Water", "flat", (29, 78, 216), "hexagon_letter", "HEXO"),
    Brand("Trelo Tea", "drift", (22, 163, 74), "triangle_stack", "TRELO"),
    Brand("Zorb Energy", "other", (249, 115, 22), "ring_bar", "ZORB"),
)


def brand_names() -> list[str]:
    """The demo's brand names, the user's own first."""
    return [b.name for b in BRANDS]


def brand_by_role(role: str) -> Brand:
    """The brand that plays `role` in the demo."""
    return next(b for b in BRANDS if b.role == role)


def _polygon(cx: float, cy: float, radius: float, sides: int, phase: float) -> list[tuple[float, float]]:
    return [
        (
            cx + radius * math.cos(phase + 2 * math.pi * k / sides),
            cy + radius * math.sin(phase + 2 * math.pi * k / sides),
        )
        for k in range(sides)
    ]


def _circle_wave(draw: ImageDraw.ImageDraw, size: int, colour: tuple[int, int, int]) -> None:
    m = size * 0.04
    draw.ellipse((m, m, size - m, size - m), fill=colour + (255,))
    # a white wave band across the disc, clipped to the disc by the mask applied afterwards
    points_top, points_bottom = [], []
    for i in range(61):
        x = m + (size - 2 * m) * i / 60
        y = size * 0.5 + size * 0.11 * math.sin(2 * math.pi * i / 60 * 1.5)
        points_top.append((x, y - size * 0.07))
        points_bottom.append((x, y + size * 0.07))
    draw.polygon(points_top + points_bottom[::-1], fill=(255, 255, 255, 255))


def _hexagon_letter(draw: ImageDraw.ImageDraw, size: int, colour: tuple[int, int, int]) -> None:
    c = size / 2
    draw.polygon(_polygon(c, c, size * 0.48, 6, math.pi / 6), fill=colour + (255,))
    w, h = size * 0.09, size * 0.46  # the letter H from three bars
    draw.rectangle((c - size * 0.18, c - h / 2, c - size * 0.18 + w, c + h / 2), fill=(255, 255, 255, 255))
    draw.rectangle((c + size * 0.18 - w, c - h / 2, c + size * 0.18, c + h / 2), fill=(255, 255, 255, 255))
    draw.rectangle((c - size * 0.18, c - w / 2, c + size * 0.18, c + w / 2), fill=(255, 255, 255, 255))


def _triangle_stack(draw: ImageDraw.ImageDraw, size: int, colour: tuple[int, int, int]) -> None:
    dark = tuple(int(v * 0.55) for v in colour) + (255,)
    for row, (top, base, half) in enumerate(((0.04, 0.40, 0.20), (0.30, 0.68, 0.32), (0.56, 0.96, 0.46))):
        fill = colour + (255,) if row % 2 == 0 else dark
        draw.polygon(
            [(size / 2, size * top), (size / 2 - size * half, size * base), (size / 2 + size * half, size * base)],
            fill=fill,
        )


def _ring_bar(draw: ImageDraw.ImageDraw, size: int, colour: tuple[int, int, int]) -> None:
    m = size * 0.06
    draw.ellipse((m, m, size - m, size - m), outline=colour + (255,), width=int(size * 0.15))
    bar = size * 0.08  # a diagonal navy bar through the ring
    c = size / 2
    d = size * 0.5
    draw.polygon(
        [
            (c - d + bar, c + d - bar * 3),
            (c + d - bar * 3, c - d + bar),
            (c + d - bar, c - d + bar * 3),
            (c - d + bar * 3, c + d - bar),
        ],
        fill=(30, 41, 59, 255),
    )


_DRAW = {
    "circle_wave": _circle_wave,
    "hexagon_letter": _hexagon_letter,
    "triangle_stack": _triangle_stack,
    "ring_bar": _ring_bar,
}


@cache
def symbol(name: str) -> Image.Image:
    """The brand's symbol alone: an RGBA image MASTER x MASTER with a transparent background."""
    brand = next(b for b in BRANDS if b.name == name)
    big = MASTER * _SUPER
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    _DRAW[brand.shape](ImageDraw.Draw(image), big, brand.colour)
    if brand.shape == "circle_wave":  # keep the wave inside the disc
        mask = Image.new("L", (big, big), 0)
        m = big * 0.04
        ImageDraw.Draw(mask).ellipse((m, m, big - m, big - m), fill=255)
        image.putalpha(ImageChops.darker(image.getchannel("A"), mask))
    return image.resize((MASTER, MASTER), Image.Resampling.LANCZOS)


@cache
def lockup(name: str) -> Image.Image:
    """The symbol above the brand's lettering, as an RGBA image (a second way the logo appears)."""
    brand = next(b for b in BRANDS if b.name == name)
    mark = symbol(name)
    font = ImageFont.load_default(size=int(MASTER * 0.26))
    text_height = int(MASTER * 0.34)
    image = Image.new("RGBA", (MASTER, MASTER + text_height), (0, 0, 0, 0))
    image.alpha_composite(mark, (0, 0))
    draw = ImageDraw.Draw(image)
    draw.text(
        (MASTER / 2, MASTER + text_height / 2),
        brand.wordmark,
        font=font,
        anchor="mm",
        fill=brand.colour + (255,),
        stroke_width=2,
        stroke_fill=(255, 255, 255, 255),
    )
    return image
