"""How photos are scored: whole, or the whole photo plus a grid of overlapping tiles (max over them).

Tiles are either crops of the photo, each its own backbone pass (mode `crops`), or windows of the feature map
of one backbone pass on the photo enlarged `scale` times (mode `feature_windows`, see classifier.windows)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Tiling:
    """Tiling settings as one value: `on` is the one place that answers "is tiling on"."""

    enabled: bool = False
    grid: int = 3
    overlap: float = 0.25
    mode: str = "crops"  # crops | feature_windows
    scale: float = 1.5  # feature_windows: the photo's side in the one pass, in input sizes (1.5: ~2x the cost)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown tiling mode {self.mode!r} (choose one of: {', '.join(MODES)})")
        if not 1.0 <= float(self.scale) <= 4.0:
            raise ValueError(f"tiling scale must be between 1 and 4, got {self.scale}")

    @classmethod
    def of(cls, value: Any) -> Tiling:
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

        return cls(
            bool(get("enabled", False)),
            int(get("grid", 3) or 3),
            float(get("overlap", 0.25) or 0.0),
            str(get("mode", "crops") or "crops"),
            float(get("scale", 1.5) or 1.5),
        )

    @classmethod
    def resolve(cls, value: Any, info: dict[str, Any] | None) -> Tiling:
        """Tiling.of(value), where AS_TRAINED means the tiling a bundle's head was trained and its thresholds
        calibrated on (its info["training"]["tiling"]; whole photos when it records none)."""
        if isinstance(value, str) and value == AS_TRAINED:
            training = (info or {}).get("training")
            return cls.of(training.get("tiling") if isinstance(training, dict) else None)
        return cls.of(value)

    @property
    def on(self) -> bool:
        return bool(self.enabled)

    def boxes(self) -> list[Box]:
        """The boxes scored per photo: the whole photo alone, or it and the tiles."""
        return tile_boxes(self.grid, self.overlap) if self.on else [WHOLE]

    @property
    def windows(self) -> bool:
        """True when the tiles are windows of one feature map rather than crops."""
        return self.on and self.mode == "feature_windows"

    def pass_side(self, input_size: int) -> int:
        """Pixels per side of the one backbone pass of feature_windows."""
        return int(round(int(input_size) * float(self.scale)))

    def work_side(self, input_size: int) -> int:
        """Pixels per side a photo needs so each tile (or the enlarged pass) still has full detail."""
        if self.windows:
            return self.pass_side(input_size)
        return int(input_size) * (self.grid if self.on else 1)

    def as_dict(self) -> dict[str, Any] | None:
        """What a bundle records: None for whole photos (crops keep the record older bundles have)."""
        if not self.on:
            return None
        out: dict[str, Any] = {"enabled": True, "grid": self.grid, "overlap": self.overlap}
        return {**out, "mode": self.mode, "scale": self.scale} if self.windows else out

    def describe(self) -> str:
        if self.windows:
            return f"feature windows {self.grid}x{self.grid} at {self.scale:g}x"
        return f"tiled {self.grid}x{self.grid}" if self.on else "whole photos"

    def mismatch(self, calibrated: Any) -> str | None:
        """Why thresholds calibrated with `calibrated` (a bundle's record) do not fit scoring with self, or None."""
        was = Tiling.of(calibrated)
        if was.on == self.on and (
            not self.on
            or (was.grid == self.grid and was.mode == self.mode and (not self.windows or was.scale == self.scale))
        ):
            return None
        more = "false alarms" if self.on else "misses"
        was_text = was.describe() if was.on else "whole-photo"
        trained = isinstance(calibrated, dict) and calibrated.get("head_trained_on") == "feature_windows"
        what = "its head was trained and its thresholds calibrated" if trained else "its thresholds were calibrated"
        return (
            f"{what} on {was_text} scores, but classifier.tiling scores "
            f"{self.describe()}: expect more {more}; retrain with the same tiling "
            f"(monitor train uses classifier.tiling)"
        )


MODES = ("crops", "feature_windows")
AS_TRAINED = "as-trained"  # score as the bundle was trained (classifier.tiling.enabled: auto)
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
