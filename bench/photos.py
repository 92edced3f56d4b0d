"""The one photo generator of the benches: distinct JPEGs from a seed each, written once into a folder.

Three looks: "blocks" (a 12x16 grid of random colours, smoothly enlarged: small files, cheap to decode),
"scene" (gradients, noise and six ellipses: JPEG sizes like real photos) and "noise" (grey-ish noise, with
one disc of the `mark` colour when given: a labelled "logo" for training). A file already there is kept,
so a bench rerun in the same work folder reuses its photos.
"""

from __future__ import annotations

import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

STYLES = ("blocks", "scene", "noise")
PARALLEL_FROM = 64  # fewer photos than this are drawn in this process


def photo(
    seed: int,
    size: tuple[int, int] = (640, 480),
    style: str = "blocks",
    quality: int = 85,
    mark: tuple[int, int, int] | None = None,
) -> bytes:
    """JPEG bytes of one photo; the same seed, size and style always give the same bytes."""
    import numpy as np
    from PIL import Image, ImageDraw

    if style not in STYLES:
        raise ValueError(f"unknown photo style {style!r} (styles: {', '.join(STYLES)})")
    rng = np.random.default_rng(seed)
    width, height = size
    if style == "blocks":
        blocks = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        image = Image.fromarray(blocks, "RGB").resize(size, Image.Resampling.BILINEAR)
    elif style == "noise":
        image = Image.fromarray(rng.integers(60, 190, (height, width, 3), dtype=np.uint8))
        if mark is not None:
            x, y, side = rng.integers(0, width - 120), rng.integers(0, height - 120), rng.integers(60, 110)
            ImageDraw.Draw(image).ellipse((x, y, x + side, y + side), fill=mark)
    else:
        yy, xx = np.mgrid[0:height, 0:width]
        base = np.stack([xx * rng.uniform(0.1, 0.4), yy * rng.uniform(0.1, 0.5), (xx + yy) * 0.15], -1) + rng.normal(
            0, 12, (height, width, 3)
        )
        image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.integers(0, width - 40), rng.integers(0, height - 40)
            draw.ellipse(
                (x, y, x + rng.integers(20, 200), y + rng.integers(20, 200)),
                fill=tuple(int(v) for v in rng.integers(0, 255, 3)),
            )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _write(job: tuple[Path, int, tuple[int, int], str, int, tuple[int, int, int] | None]) -> None:
    path, seed, size, style, quality, mark = job
    path.write_bytes(photo(seed, size, style, quality, mark))


def write_photos(
    folder: Path,
    count: int,
    first_seed: int = 0,
    size: tuple[int, int] = (640, 480),
    style: str = "blocks",
    quality: int = 85,
    name: str = "photo-{seed:05d}.jpg",
    mark: tuple[int, int, int] | None = None,
) -> list[Path]:
    """`count` photos of seeds first_seed, first_seed + 1, ... in `folder` (`name` uses {seed} or {i}); their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name.format(seed=first_seed + i, i=i) for i in range(count)]
    missing = [(p, first_seed + i, size, style, quality, mark) for i, p in enumerate(paths) if not p.exists()]
    if len(missing) >= PARALLEL_FROM:
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(pool.map(_write, missing, chunksize=64))
    else:
        for job in missing:
            _write(job)
    return paths


def photo_folder(folder: Path, count: int, **options) -> Path:
    """write_photos, returning the folder."""
    write_photos(folder, count, **options)
    return folder
