"""Photos the classifier tests draw themselves: three 'brands' as coloured shapes on busy backgrounds."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

BRANDS = ("Acme", "Bolt", "Corona")


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A random grey-ish gradient with a few dull clutter shapes."""
    width, height = size
    base = rng.randint(60, 190)
    image = Image.new("RGB", size, (base, base, base))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 7)):
        tone = rng.randint(40, 220)
        x, y = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(4, width // 5)
        draw.ellipse((x - r, y - r, x + r, y + r // 2), fill=(tone, tone, tone - rng.randint(0, 20)))
    return image


def _logo(draw: ImageDraw.ImageDraw, brand: str, box: tuple[int, int, int, int]) -> None:
    x1, y1, x2, y2 = box
    if brand == "Acme":  # red disc
        draw.ellipse(box, fill=(220, 30, 30))
    elif brand == "Bolt":  # blue square with a yellow bar
        draw.rectangle(box, fill=(30, 60, 220))
        draw.rectangle((x1, (y1 + y2) // 2 - 3, x2, (y1 + y2) // 2 + 3), fill=(240, 220, 0))
    else:  # green triangle
        draw.polygon([(x1, y2), ((x1 + x2) // 2, y1), (x2, y2)], fill=(20, 180, 40))


def draw_photo(brands: tuple[str, ...], seed: int, size: tuple[int, int] = (96, 80)) -> Image.Image:
    """One photo showing `brands` (possibly none) at random places and sizes."""
    rng = random.Random(seed)
    image = _background(rng, size)
    draw = ImageDraw.Draw(image)
    width, height = size
    for index, brand in enumerate(brands):
        side = rng.randint(int(height * 0.35), int(height * 0.55))
        half = width // max(1, len(brands))
        x = rng.randint(index * half, max(index * half, (index + 1) * half - side))
        y = rng.randint(0, height - side)
        _logo(draw, brand, (x, y, x + side, y + side))
    return image


def write_folder_dataset(root: Path, per_brand: int, negatives: int, seed: int = 0) -> Path:
    """root/<Brand>/*.jpg plus root/none/*.jpg; returns root."""
    for b_index, brand in enumerate(BRANDS):
        (root / brand).mkdir(parents=True, exist_ok=True)
        for i in range(per_brand):
            draw_photo((brand,), seed * 100_000 + b_index * 1000 + i).save(
                root / brand / f"{brand}-{i}.jpg", quality=92
            )
    (root / "none").mkdir(parents=True, exist_ok=True)
    for i in range(negatives):
        draw_photo((), seed * 100_000 + 9000 + i).save(root / "none" / f"none-{i}.jpg", quality=92)
    return root
