"""Generated backgrounds (sky and ground, textures, buildings, stripes) and distractor shapes."""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

WIDTH, HEIGHT = 320, 240
_X = np.linspace(-0.5, 0.5, WIDTH, dtype=np.float32)
_Y = np.linspace(-0.5, 0.5, HEIGHT, dtype=np.float32)
SCENE_KINDS = ("landscape", "street", "texture", "stripes", "interior")


def random_colour(
    rng: np.random.Generator, saturation: tuple[float, float] = (0.1, 0.7), value: tuple[float, float] = (0.25, 0.95)
) -> np.ndarray:
    """A muted RGB colour (float32 0..255): scenes are calmer than brand colours, as in most photos."""
    h = rng.random()
    s = rng.uniform(*saturation) * 0.6
    v = rng.uniform(*value)
    return np.array(colorsys.hsv_to_rgb(h, s, v), dtype=np.float32) * 255


def vivid_colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated colour in hues no demo brand uses (yellow, cyan, purple): loud things that are not logos."""
    band = ((0.12, 0.17), (0.46, 0.54), (0.72, 0.92))[int(rng.integers(3))]
    rgb = colorsys.hsv_to_rgb(rng.uniform(*band), rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.0))
    return np.array(rgb, dtype=np.float32) * 255


def _gradient(top: np.ndarray, bottom: np.ndarray, height: int, width: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).copy()


def _noise(rng: np.random.Generator, height: int, width: int, cells: int, amplitude: float) -> np.ndarray:
    """Smooth value noise: a small random grid upscaled bicubically (cheap and vectorised)."""
    grid = rng.normal(0.0, 1.0, (cells * 3 // 4 + 2, cells + 2)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image)[:, :, None] * amplitude


def _landscape(rng: np.random.Generator) -> np.ndarray:
    horizon = int(rng.uniform(0.3, 0.7) * HEIGHT)
    sky = _gradient(
        random_colour(rng, (0.2, 0.6), (0.6, 1.0)), random_colour(rng, (0.0, 0.3), (0.7, 1.0)), horizon, WIDTH
    )
    ground = _gradient(
        random_colour(rng, (0.2, 0.8), (0.3, 0.8)), random_colour(rng, (0.2, 0.8), (0.15, 0.6)), HEIGHT - horizon, WIDTH
    )
    image = np.concatenate([sky, ground], axis=0)
    image += _noise(rng, HEIGHT, WIDTH, int(rng.integers(6, 30)), rng.uniform(5, 25))
    # hills: a smooth random skyline filled with the ground colour
    xs = np.arange(WIDTH)
    ridge = horizon - np.abs(np.cumsum(rng.normal(0, 2.0, WIDTH)))[::1] * rng.uniform(0.2, 1.0)
    ridge = np.clip(ridge, horizon * 0.4, horizon).astype(np.int32)
    rows = np.arange(HEIGHT)[:, None]
    hill = (rows >= ridge[None, xs]) & (rows < horizon)
    image[hill] = image[hill] * 0.4 + random_colour(rng, (0.2, 0.6), (0.2, 0.6)) * 0.6
    return image


def _street(rng: np.random.Generator) -> np.ndarray:
    image = _gradient(
        random_colour(rng, (0.1, 0.5), (0.6, 1.0)), random_colour(rng, (0.0, 0.2), (0.5, 0.9)), HEIGHT, WIDTH
    )
    canvas = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    x = int(rng.integers(-30, 10))
    while x < WIDTH:  # buildings with window grids
        w = int(rng.integers(30, 110))
        top = int(rng.integers(10, HEIGHT // 2))
        wall = tuple(int(v) for v in random_colour(rng, (0.0, 0.4), (0.3, 0.9)))
        draw.rectangle((x, top, x + w, HEIGHT), fill=wall)
        win = tuple(int(v) for v in random_colour(rng, (0.0, 0.3), (0.1, 1.0)))
        step = int(rng.integers(10, 22))
        for wy in range(top + 6, HEIGHT - 30, step):
            for wx in range(x + 5, x + w - 8, step):
                draw.rectangle((wx, wy, wx + step // 2, wy + step // 2), fill=win)
        x += w + int(rng.integers(0, 12))
    road = int(rng.uniform(0.75, 0.9) * HEIGHT)
    draw.rectangle((0, road, WIDTH, HEIGHT), fill=tuple(int(v) for v in random_colour(rng, (0.0, 0.15), (0.2, 0.5))))
    image = np.asarray(canvas, dtype=np.float32) + _noise(rng, HEIGHT, WIDTH, 40, rng.uniform(3, 12))
    return image


def _texture(rng: np.random.Generator) -> np.ndarray:
    base = random_colour(rng)
    image = np.broadcast_to(base, (HEIGHT, WIDTH, 3)).astype(np.float32)
    image = image + _noise(rng, HEIGHT, WIDTH, int(rng.integers(4, 12)), rng.uniform(20, 45))
    image = image + _noise(rng, HEIGHT, WIDTH, int(rng.integers(40, 90)), rng.uniform(8, 25))
    tint = random_colour(rng) - base
    return image + _noise(rng, HEIGHT, WIDTH, 5, 0.25) * tint[None, None, :] / 45.0


def _stripes(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(8, 60)
    phase = ((_X * WIDTH * math.cos(angle))[None, :] + (_Y * HEIGHT * math.sin(angle))[:, None]) / period
    wave = (np.sin(2 * math.pi * phase) > rng.uniform(-0.5, 0.5)).astype(np.float32)[:, :, None]
    a, b = random_colour(rng), random_colour(rng)
    return a * wave + b * (1 - wave) + _noise(rng, HEIGHT, WIDTH, 20, rng.uniform(4, 15))


def _interior(rng: np.random.Generator) -> np.ndarray:
    wall = _gradient(
        random_colour(rng, (0.0, 0.4), (0.5, 0.95)), random_colour(rng, (0.0, 0.4), (0.3, 0.8)), HEIGHT, WIDTH
    )
    floor = int(rng.uniform(0.55, 0.85) * HEIGHT)
    wall[floor:] = random_colour(rng, (0.1, 0.6), (0.2, 0.7))
    canvas = Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 5))):  # tables, shelves, frames
        x0, y0 = int(rng.integers(0, WIDTH - 40)), int(rng.integers(0, HEIGHT - 30))
        draw.rectangle(
            (x0, y0, x0 + int(rng.integers(20, 140)), y0 + int(rng.integers(10, 80))),
            fill=tuple(int(v) for v in random_colour(rng, (0.0, 0.5), (0.1, 0.8))),
        )
    return np.asarray(canvas, dtype=np.float32) + _noise(rng, HEIGHT, WIDTH, 30, rng.uniform(3, 10))


_MAKERS = {"landscape": _landscape, "street": _street, "texture": _texture, "stripes": _stripes, "interior": _interior}


def scene(rng: np.random.Generator, kind: str | None = None) -> Image.Image:
    """A WIDTH x HEIGHT RGB background of a random (or the given) kind."""
    kind = kind or SCENE_KINDS[int(rng.integers(len(SCENE_KINDS)))]
    return Image.fromarray(np.clip(_MAKERS[kind](rng), 0, 255).astype(np.uint8))


def add_distractors(image: Image.Image, rng: np.random.Generator, count: int) -> None:
    """Shapes that are not logos (discs, polygons, signs, stars), so 'no logo' is learned too."""
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        size = int(rng.integers(18, 90))
        x, y = int(rng.integers(-10, WIDTH - size + 10)), int(rng.integers(-10, HEIGHT - size + 10))
        loud = rng.random() < 0.3
        fill = tuple(int(v) for v in (vivid_colour(rng) if loud else random_colour(rng, (0.0, 1.0), (0.2, 1.0))))
        other = tuple(int(v) for v in random_colour(rng, (0.0, 1.0), (0.2, 1.0)))
        kind = int(rng.integers(5))
        if kind == 0:
            draw.ellipse((x, y, x + size, y + size), fill=fill)
        elif kind == 1:
            sides = int(rng.integers(3, 9))
            c, r, phase = (x + size / 2, y + size / 2), size / 2, rng.uniform(0, math.pi)
            draw.polygon(
                [
                    (
                        c[0] + r * math.cos(phase + 2 * math.pi * k / sides),
                        c[1] + r * math.sin(phase + 2 * math.pi * k / sides),
                    )
                    for k in range(sides)
                ],
                fill=fill,
            )
        elif kind == 2:  # a sign: a plate with bars that look like text
            h = max(8, size // 2)
            draw.rectangle((x, y, x + size * 2, y + h), fill=fill)
            for bx in range(x + 4, x + size * 2 - 6, 7):
                draw.rectangle((bx, y + h // 3, bx + 4, y + 2 * h // 3), fill=other)
        elif kind == 3:  # a ring of any colour, with no bar
            draw.ellipse((x, y, x + size, y + size), outline=fill, width=max(2, size // 7))
        else:  # a star
            c, phase = (x + size / 2, y + size / 2), rng.uniform(0, math.pi)
            points = [
                (
                    c[0] + (size / 2 if k % 2 == 0 else size / 5) * math.cos(phase + math.pi * k / 5),
                    c[1] + (size / 2 if k % 2 == 0 else size / 5) * math.sin(phase + math.pi * k / 5),
                )
                for k in range(10)
            ]
            draw.polygon(points, fill=fill)


_GRADIENT = Image.linear_gradient("L").resize((WIDTH * 2, WIDTH * 2))  # dark to light, top to bottom


def soften(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Camera effects on the whole photo: lighting falloff, exposure, colour cast, blur, sensor noise."""
    # light falls off across the frame in a random direction (Pillow's C ops: no float copies of the photo)
    slope = rng.uniform(0.0, 0.5)
    ramp = _GRADIENT.rotate(float(rng.uniform(0, 360)), resample=Image.Resampling.NEAREST)
    left, top = (ramp.width - WIDTH) // 2, (ramp.height - HEIGHT) // 2
    ramp = ramp.crop((left, top, left + WIDTH, top + HEIGHT)).point(lambda v: int(255 * (1 - slope * v / 255)))
    result = ImageChops.multiply(image, Image.merge("RGB", (ramp, ramp, ramp)))
    gain = rng.uniform(0.65, 1.35) * rng.uniform(0.9, 1.1, 3)  # exposure and white balance, one LUT per channel
    lut = np.clip(np.arange(256)[None, :] * gain[:, None], 0, 255).astype(np.uint8).ravel().tolist()
    result = result.point(lut)
    if rng.random() < 0.4:
        sigma = rng.uniform(2, 7)
        noise = rng.standard_normal((HEIGHT, WIDTH, 1), dtype=np.float32) * np.float32(sigma)
        array = np.asarray(result, dtype=np.float32)
        array += noise
        result = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    if rng.random() < 0.25:
        result = result.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.6)))
    return result
