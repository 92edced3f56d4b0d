"""Training items (photos, context crops, hard negatives) and their cached backbone features."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from classifier.augment import AugmentParams, augmented_view, build_augmenter, shrink
from classifier.dataset import Box, Dataset, Example
from classifier.images import read_rgb, tile_pixels
from classifier.tiling import Tiling

CACHE_VERSION = 1


@dataclass(frozen=True)
class Item:
    """What the head learns from: a whole photo or a crop of it (pixels), with its brands."""

    example: Example
    brands: frozenset[str]
    crop: tuple[int, int, int, int] | None = None

    @property
    def key(self) -> str:
        where = "whole" if self.crop is None else ",".join(map(str, self.crop))
        return hashlib.sha256(f"{self.example.sha256}:{where}".encode()).hexdigest()[:40]

    def pixels(self) -> np.ndarray:
        image = read_rgb(self.example.path)
        if self.crop is None:
            return image
        x1, y1, x2, y2 = self.crop
        return image[y1:y2, x1:x2]


def _context_crop(box: Box, width: int, height: int, scale: float) -> tuple[int, int, int, int]:
    """The box grown `scale` times (at least 1/4 of the photo's shorter side), clipped to the photo."""
    cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    side = max(box.x2 - box.x1, box.y2 - box.y1) * scale
    side = min(max(side, min(width, height) / 4), max(width, height))
    x1, y1 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x2, y2 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    return x1, y1, max(x2, x1 + 2), max(y2, y1 + 2)


def _overlaps(crop: tuple[int, int, int, int], box: Box, margin: float = 0.1) -> bool:
    mx, my = (box.x2 - box.x1) * margin, (box.y2 - box.y1) * margin
    return not (crop[2] <= box.x1 - mx or crop[0] >= box.x2 + mx or crop[3] <= box.y1 - my or crop[1] >= box.y2 + my)


def _share_inside(crop: tuple[int, int, int, int], box: Box) -> float:
    """The fraction of the box's area that lies inside the crop."""
    width = min(crop[2], box.x2) - max(crop[0], box.x1)
    height = min(crop[3], box.y2) - max(crop[1], box.y1)
    area = max(box.x2 - box.x1, 1e-9) * max(box.y2 - box.y1, 1e-9)
    return max(width, 0.0) * max(height, 0.0) / area


def tile_labels(
    example: Example, tiles: Sequence[tuple[float, float, float, float]], majority: float = 0.5
) -> list[frozenset[str] | None]:
    """Each tile's brands from the photo's boxes: a brand whose box lies mostly inside; no brand when no box
    touches the tile; None (unsure) when the tile holds only part of a box."""
    out: list[frozenset[str] | None] = []
    for tile in tiles:
        crop = tile_pixels(tile, example.width, example.height)
        brands = frozenset(b.brand for b in example.boxes if _share_inside(crop, b) >= majority)
        unsure = {b.brand for b in example.boxes if _overlaps(crop, b)} - brands
        out.append(None if unsure else brands)
    return out


def tile_items(
    example: Example, tiles: Sequence[tuple[float, float, float, float]], majority: float = 0.5
) -> list[Item]:
    """The tiles predict-time tiling looks at, labelled from the boxes (see tile_labels); unsure ones left out."""
    labels = tile_labels(example, tiles, majority)
    return [
        Item(example, brands, tile_pixels(tile, example.width, example.height))
        for tile, brands in zip(tiles, labels, strict=True)
        if brands is not None
    ]


def boxes_cover(example: Example) -> bool:
    """True when every brand of the photo has a box (so a place no box touches shows none of its brands)."""
    return bool(example.boxes) and {b.brand for b in example.boxes} >= example.brands


def training_items(
    dataset: Dataset,
    context_crops: int = 2,
    hard_negatives: int = 1,
    crop_scale: float = 2.0,
    seed: int = 0,
    tiles: Sequence[tuple[float, float, float, float]] = (),
) -> list[Item]:
    """Whole photos, plus context crops around logo boxes, logo-free crops of logo photos and
    (when `tiles` gives fractional boxes) the labelled tiles of boxed photos."""
    rng = random.Random(seed)
    items = []
    for example in dataset.examples:
        items.append(Item(example, example.brands))
        if not example.boxes:
            continue
        if tiles and {b.brand for b in example.boxes} >= example.brands:
            items.extend(tile_items(example, tiles))
        w, h = example.width, example.height
        boxes = sorted(example.boxes, key=lambda b: -(b.x2 - b.x1) * (b.y2 - b.y1))[:context_crops]
        for box in boxes:
            crop = _context_crop(box, w, h, crop_scale)
            inside = frozenset(
                b.brand
                for b in example.boxes
                if crop[0] <= (b.x1 + b.x2) / 2 <= crop[2] and crop[1] <= (b.y1 + b.y2) / 2 <= crop[3]
            )
            items.append(Item(example, inside | {box.brand}, crop))
        if not {b.brand for b in example.boxes} >= example.brands:
            continue  # a brand without a box could be anywhere: no safe negative crop
        for _ in range(hard_negatives):
            for _attempt in range(20):
                side = int(min(w, h) * rng.uniform(0.3, 0.6))
                x, y = rng.randint(0, w - side), rng.randint(0, h - side)
                crop = (x, y, x + side, y + side)
                if side >= 16 and not any(_overlaps(crop, b) for b in example.boxes):
                    items.append(Item(example, frozenset(), crop))
                    break
    return items


def background_crops(dataset: Dataset, per_photo: int = 1, seed: int = 0) -> list[Item]:
    """Logo-free crops of the boxed photos: ordinary backgrounds, as no-logo photos of their own."""
    items = training_items(dataset, context_crops=0, hard_negatives=per_photo, seed=seed)
    return [item for item in items if item.crop is not None and not item.brands]


class FeatureCache:
    """Backbone features per (item, view) on disk, keyed by everything that shapes them. With a feature_windows
    `tiling`, each view is the photo enlarged as windows scoring sees it and its features are per window."""

    def __init__(self, root: Path, model, params: AugmentParams, tiling: Tiling | None = None):
        self.tiling = tiling if tiling is not None and tiling.windows else None
        # Augmented views are made at the side the backbone pass sees: input_size, or the enlarged windows pass.
        self.side = self.tiling.pass_side(model.input_size) if self.tiling else model.input_size
        identity = {
            "version": CACHE_VERSION,
            "backbone": model.backbone,
            "weights": model.weights_id,
            "input_size": model.input_size,
            "features": model.feature_layout,
            "precision": model.compute_precision,
            "augmentation": {k: v for k, v in asdict(params).items() if k != "views"},
        }
        # Window features (ten per view) are kept as float16: half the memory and disk, and bfloat16 backbones
        # give no more digits than that anyway. Whole-photo features stay float32.
        self.dtype = np.dtype(np.float16 if self.tiling else np.float32)
        if self.tiling:
            identity["windows"] = {"grid": self.tiling.grid, "overlap": self.tiling.overlap, "scale": self.tiling.scale}
            identity["stored"] = self.dtype.name
        self.key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
        self.folder = Path(root) / self.key
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "identity.json").write_text(json.dumps(identity, indent=2, sort_keys=True))
        self.model = model
        self.params = params

    CHUNK = 128

    def _views(self, items: list[Item], chunk, augmenter, bar, task) -> Iterator[np.ndarray]:
        for index, missing in chunk:
            item = items[index]
            image = item.pixels()
            small = shrink(image, self.side)
            for view in missing:
                yield image if view == 0 else augmented_view(augmenter, self.params, small, item.key, view)
                bar.advance(task)

    def _path(self, item: Item) -> Path:
        return self.folder / f"{item.key}.npy"

    def _stored(self, item: Item) -> np.ndarray:
        path = self._path(item)
        if path.is_file():
            try:
                return np.load(path)
            except (OSError, ValueError):  # a half-written file from an interrupted run
                path.unlink(missing_ok=True)
        return np.zeros((0, *self.shape), self.dtype)

    def _storable(self, features: np.ndarray) -> np.ndarray:
        if self.dtype == np.float16:  # saturate rather than overflow to inf
            limit = np.finfo(np.float16).max
            return np.clip(features, -limit, limit).astype(np.float16)
        return features.astype(self.dtype, copy=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """One view's features: (D,), or (windows, D) with feature_windows."""
        dim = self.model.feature_dim
        return (len(self.tiling.boxes()), dim) if self.tiling else (dim,)

    def _compute(self, views: Iterator[np.ndarray], batch_size: int) -> np.ndarray:
        if self.tiling:
            from classifier.windows import window_features

            return window_features(self.model, views, self.tiling, batch_size)
        return self.model.features(views, batch_size)

    def features(self, items: list[Item], views: int, batch_size: int = 32, progress: bool = True) -> np.ndarray:
        """(len(items), views, *shape), float16 for windows: view 0 is the plain photo, views 1.. are augmented."""
        from rich.progress import Progress

        out = np.empty((len(items), views, *self.shape), self.dtype)  # filled in place: no second copy
        todo, partial = [], {}  # partial: the views already stored of the items still missing some
        for index, item in enumerate(items):
            stored = self._stored(item)
            if len(stored) >= views:
                out[index] = stored[:views]
            else:
                todo.append((index, range(len(stored), views)))
                partial[index] = stored
        total = sum(len(r) for _, r in todo)
        if total:
            augmenter = build_augmenter(self.params, self.side)
            with Progress(disable=not progress, transient=True) as bar:
                task = bar.add_task(f"Backbone features ({self.model.backbone})", total=total)
                for start in range(0, len(todo), self.CHUNK):  # saved chunk by chunk: an interrupted run resumes
                    chunk = todo[start : start + self.CHUNK]
                    computed = self._storable(
                        self._compute(self._views(items, chunk, augmenter, bar, task), batch_size)
                    )
                    offset = 0
                    for index, missing in chunk:
                        fresh = computed[offset : offset + len(missing)]
                        offset += len(missing)
                        kept = np.concatenate([partial.pop(index), fresh], axis=0)
                        out[index] = kept[:views]
                        tmp = self._path(items[index]).with_suffix(".tmp.npy")
                        np.save(tmp, kept)
                        tmp.replace(self._path(items[index]))
        return out
