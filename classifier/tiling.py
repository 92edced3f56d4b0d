"""How photos are scored: whole, or the whole photo plus a grid of overlapping tiles (max over them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Tiling:
    """Tiling settings as one value: `on` is the one place that answers "is tiling on"."""

    enabled: bool = False
    grid: int = 3
    overlap: float = 0.25

    @classmethod
    def of(cls, value: Any) -> "Tiling":
        """A Tiling from None, a Tiling, a dict or any object with enabled/grid/overlap (e.g. the config's)."""
        if isinstance(value, Tiling):
            return value
        if value is None:
            return OFF
        if isinstance(value, dict):
            get = value.get
        else:
            def get(key, default=None):
                return getattr(value, key, default)
        return cls(bool(get("enabled", False)), int(get("grid", 3) or 3), float(get("overlap", 0.25) or 0.0))

    @property
    def on(self) -> bool:
        return bool(self.enabled)

    def boxes(self) -> list[Box]:
        """The boxes scored per photo: the whole photo alone, or it and the tiles."""
        return tile_boxes(self.grid, self.overlap) if self.on else [WHOLE]

    def work_side(self, input_size: int) -> int:
        """Pixels per side a photo needs so each tile still has `input_size` pixels."""
        return int(input_size) * (self.grid if self.on else 1)

    def as_dict(self) -> Optional[dict[str, Any]]:
        """What a bundle records: None for whole photos."""
        return {"enabled": True, "grid": self.grid, "overlap": self.overlap} if self.on else None

    def describe(self) -> str:
        return f"tiled {self.grid}x{self.grid}" if self.on else "whole photos"

    def mismatch(self, calibrated: Any) -> Optional[str]:
        """Why thresholds calibrated with `calibrated` (a bundle's record) do not fit scoring with self, or None."""
        was = Tiling.of(calibrated)
        if was.on == self.on and (not self.on or was.grid == self.grid):
            return None
        more = "false alarms" if self.on else "misses"
        was_text = f"tiled {was.grid}x{was.grid}" if was.on else "whole-photo"
        return (f"its thresholds were calibrated on {was_text} scores, but classifier.tiling scores "
                f"{self.describe()}: expect more {more}; retrain with the same tiling "
                f"(monitor train uses classifier.tiling)")


WHOLE: Box = (0.0, 0.0, 1.0, 1.0)
OFF = Tiling()


def tile_boxes(grid: int, overlap: float) -> list[Box]:
    """The whole photo first, then a grid x grid of overlapping tiles, as (x1, y1, x2, y2) fractions."""
    boxes = [WHOLE]
    size = 1.0 / (grid - (grid - 1) * overlap)
    step = size * (1.0 - overlap)
    for row in range(grid):
        for col in range(grid):
            x1, y1 = col * step, row * step
            boxes.append((round(x1, 6), round(y1, 6), round(min(1.0, x1 + size), 6), round(min(1.0, y1 + size), 6)))
    return boxes


def tile_pixels(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A fractional (x1, y1, x2, y2) box in whole pixels of a width x height photo, at least one pixel."""
    left, top = int(math.floor(box[0] * width)), int(math.floor(box[1] * height))
    right = max(int(math.ceil(box[2] * width)), left + 1)
    bottom = max(int(math.ceil(box[3] * height)), top + 1)
    return left, top, right, bottom
