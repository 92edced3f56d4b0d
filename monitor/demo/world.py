"""The demo's generated world: a labelled training set, held-out photos, and a 12-week feed."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from itertools import combinations
from pathlib import Path

import numpy as np

from monitor.demo.feed import (  # noqa: F401 (PLACES, FEED_START: the world's public names)
    FEED_START,
    PLACES,
    PhotoSpec,
    campaign_window,
    feed_pair_share,
    feed_plan,
    feed_window,
    mean_planted,
)
from monitor.demo.logos import BRANDS
from monitor.demo.photos import jpeg_bytes, make_photo
from monitor.errors import ConfigError

NONE = "none"  # the classifier's folder for photos without a logo


@dataclass(frozen=True)
class Scale:
    """How many photos of each kind the world holds."""

    train_per_brand: int
    train_none: int
    holdout_per_brand: int
    holdout_none: int
    daily_min: int
    daily_max: int
    pair_fraction: float | None = None  # share of a brand's labelled photos with a second logo; None: the feed's


# Held-out photos are cheap (drawn and scored, never trained on) and the error-rate correction is only
# as sure as the rates they measure: hundreds of them, no-logo photos most of all (each half of the split
# holds about 120 per brand and 500 no-logo photos).
# Training photos: twice as many distinct drawn photos, each seen once per epoch, generalise better than
# the plain and one augmented view of half as many, at the same training cost (seed 3, held-out AP of
# Trelo Tea 0.42 -> 0.76, Zorb Energy 0.87 -> 0.95).
SCALES = {
    "small": Scale(
        train_per_brand=40, train_none=70, holdout_per_brand=40, holdout_none=100, daily_min=12, daily_max=22
    ),
    "full": Scale(
        train_per_brand=360, train_none=560, holdout_per_brand=240, holdout_none=1000, daily_min=40, daily_max=70
    ),
}


@dataclass
class World:
    """What `generate_world` wrote: the folders, the campaign, and the planted and realised rates."""

    root: Path
    seed: int
    scale: str
    train_dir: Path
    holdout_dir: Path
    feed_dir: Path
    campaign: dict
    counts: dict
    planted: dict
    observed: dict
    sizes: list[int] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        """The JSON written to world.json."""
        data = asdict(self)
        data.pop("sizes")
        data.pop("root")
        for key in ("train_dir", "holdout_dir", "feed_dir"):  # relative, so the file is the same wherever it lands
            data[key] = str(Path(data[key]).relative_to(self.root))
        return data


def _training_plan(
    prefix: str, stream: int, per_brand: int, none: int, pair_fraction: float, closeups: bool
) -> list[PhotoSpec]:
    names = [b.name for b in BRANDS]
    pairs = list(combinations(names, 2))
    n_pairs = round(per_brand * pair_fraction * len(names) / 2)
    singles = per_brand - round(n_pairs * 2 / len(names))
    specs: list[PhotoSpec] = []
    index = 0
    for name in names:
        for k in range(singles):  # a third are close-ups, as people collect them when labelling
            specs.append(
                PhotoSpec(
                    (f"{prefix}/{name}/{prefix}-{index:05d}.jpg",),
                    (name,),
                    stream,
                    index,
                    closeup=closeups and k % 3 == 0,
                )
            )
            index += 1
    for k in range(n_pairs):  # one photo, two logos: the same bytes in both brands' folders
        a, b = pairs[k % len(pairs)]
        specs.append(
            PhotoSpec(
                (f"{prefix}/{a}/{prefix}-{index:05d}.jpg", f"{prefix}/{b}/{prefix}-{index:05d}.jpg"),
                (a, b),
                stream,
                index,
            )
        )
        index += 1
    for _ in range(none):
        specs.append(PhotoSpec((f"{prefix}/{NONE}/{prefix}-{index:05d}.jpg",), (), stream, index))
        index += 1
    return specs


def _render(root: str, seed: int, spec: PhotoSpec) -> list[int]:
    """Draw one photo and write it (and its sidecar) to every path; returns the logo sizes."""
    rng = np.random.default_rng([seed, spec.stream, spec.index])
    sizes = {"min_size": 150, "max_size": 230} if spec.closeup else {}
    image, placed = make_photo(rng, list(spec.brands), **sizes)
    data = jpeg_bytes(image, rng)
    for rel in spec.paths:
        path = Path(root) / rel
        path.write_bytes(data)
        if spec.sidecar is not None:
            Path(f"{path}.json").write_text(json.dumps(spec.sidecar, indent=1), encoding="utf-8")
            stamp = datetime.fromisoformat(spec.sidecar["posted_at"].replace("Z", "+00:00")).timestamp()
            os.utime(path, (stamp, stamp))
    return [p.size for p in placed]


def _render_chunk(root: str, seed: int, specs: list[PhotoSpec]) -> list[list[int]]:
    return [_render(root, seed, spec) for spec in specs]


def _render_all(
    root: Path, seed: int, specs: list[PhotoSpec], workers: int, on_progress: Callable[[int], None] | None
) -> list[list[int]]:
    """Draw every photo; with workers > 1 in spawned processes (same bytes either way: one RNG per photo)."""
    chunks = [specs[i : i + 100] for i in range(0, len(specs), 100)]
    results: list[list[int]] = []
    if workers <= 1:
        for chunk in chunks:
            results.extend(_render_chunk(str(root), seed, chunk))
            if on_progress:
                on_progress(len(chunk))
        return results
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for chunk, sizes in zip(
            chunks, pool.map(_render_chunk, [str(root)] * len(chunks), [seed] * len(chunks), chunks), strict=True
        ):
            results.extend(sizes)
            if on_progress:
                on_progress(len(chunk))
    return results


def resolve_scale(scale: str | Scale) -> Scale:
    """A named scale (small, full) or a custom Scale as is."""
    if isinstance(scale, Scale):
        return scale
    if scale not in SCALES:
        raise ConfigError(f"unknown demo scale {scale!r} (valid: {', '.join(SCALES)})")
    return SCALES[scale]


def plan_world(seed: int, scale: str | Scale) -> list[PhotoSpec]:
    """Every photo of the world, decided up front from the seed (drawing comes later)."""
    s = resolve_scale(scale)
    # Two-logo photos are found less often (each logo is smaller): with the feed's share of them the held-out
    # photos measure the recall the feed sees (at 0.15 they overstated it by up to 5%, biasing every count).
    pairs = feed_pair_share() if s.pair_fraction is None else s.pair_fraction
    return (
        _training_plan("train", 1, s.train_per_brand, s.train_none, pairs, closeups=True)
        + _training_plan("holdout", 2, s.holdout_per_brand, s.holdout_none, pairs, closeups=False)
        + feed_plan(seed, s)
    )


def _observed(feed: list[PhotoSpec]) -> dict:
    """Realised share of feed photos showing each brand, per window, counted from the ground truth."""
    windows: dict[str, list[PhotoSpec]] = {"baseline": [], "campaign": [], "after": []}
    for spec in feed:
        day = (date.fromisoformat(spec.sidecar["posted_at"][:10]) - FEED_START).days
        windows[feed_window(day)].append(spec)
    return {
        b.name: {
            w: {
                "photos": len(items),
                "with_brand": sum(b.name in s.brands for s in items),
                "rate": round(sum(b.name in s.brands for s in items) / max(1, len(items)), 4),
            }
            for w, items in windows.items()
        }
        for b in BRANDS
    }


def _write_truth(path: Path, specs: list[PhotoSpec], sizes: list[list[int]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "brands", "logo_sizes", "posted_at", "place"])
        for spec, logo_sizes in zip(specs, sizes, strict=True):
            side = spec.sidecar or {}
            writer.writerow(
                [
                    ";".join(spec.paths),
                    ";".join(spec.brands),
                    ";".join(map(str, logo_sizes)),
                    side.get("posted_at", ""),
                    side.get("place", ""),
                ]
            )


def generate_world(
    out: Path,
    seed: int = 0,
    scale: str | Scale = "full",
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> World:
    """Draw the whole world into `out` (train/, holdout/, feed/, truth/, world.json); deterministic per seed."""
    out = Path(out)
    specs = plan_world(seed, scale)
    for spec in specs:
        for rel in spec.paths:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    sizes = _render_all(out, seed, specs, workers, on_progress)
    feed = [s for s in specs if s.stream == 3]
    for name, stream in (("train", 1), ("holdout", 2), ("feed", 3)):
        chosen = [(s, z) for s, z in zip(specs, sizes, strict=True) if s.stream == stream]
        _write_truth(out / "truth" / f"{name}.csv", [s for s, _ in chosen], [z for _, z in chosen])

    def folder_counts(stream: int) -> dict[str, int]:
        counts = {b.name: 0 for b in BRANDS} | {NONE: 0}
        for spec in specs:
            if spec.stream == stream:
                for brand in spec.brands or (NONE,):
                    counts[brand] += 1
        return counts

    world = World(
        root=out,
        seed=seed,
        scale=scale if isinstance(scale, str) else "custom",
        train_dir=out / "train",
        holdout_dir=out / "holdout",
        feed_dir=out / "feed",
        campaign=campaign_window(),
        counts={
            "train": folder_counts(1),
            "holdout": folder_counts(2),
            "feed_photos": len(feed),
            "two_logo_photos": sum(len(s.brands) == 2 for s in specs),
        },
        planted={
            b.name: {"role": b.role, **{w: round(mean_planted(b, w), 4) for w in ("baseline", "campaign", "after")}}
            for b in BRANDS
        },
        observed=_observed(feed),
        sizes=[size for logo_sizes in sizes for size in logo_sizes],
    )
    (out / "world.json").write_text(json.dumps(world.summary(), indent=2), encoding="utf-8")
    return world


def planned_photo_count(seed: int, scale: str | Scale) -> int:
    """How many photos `generate_world` will draw (for progress bars), without drawing them."""
    return len(plan_world(seed, scale))
