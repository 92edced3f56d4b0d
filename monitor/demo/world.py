"""The demo's generated world: a labelled training set, held-out photos, and a 12-week feed."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import combinations
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from monitor.demo.logos import BRANDS, Brand, brand_by_role
from monitor.demo.photos import jpeg_bytes, make_photo
from monitor.errors import ConfigError

FEED_START = date(2026, 6, 1)  # a Monday; the feed covers 12 weeks from here
WEEKS = 12
CAMPAIGN_WEEKS = (5, 8)  # inclusive, 1-based
CAMPAIGN_NAME = "Summer Splash"
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
    pair_fraction: float = 0.15


# Held-out photos are cheap (drawn and scored, never trained on) and the error-rate correction is only
# as sure as the rates they measure: hundreds of them, no-logo photos most of all.
SCALES = {
    "small": Scale(train_per_brand=40, train_none=70, holdout_per_brand=40, holdout_none=100, daily_min=12,
                   daily_max=22),
    "full": Scale(train_per_brand=180, train_none=280, holdout_per_brand=120, holdout_none=500, daily_min=40,
                  daily_max=70),
}

# Fictional places in a generic city: name, latitude, longitude, share of the feed's photos.
PLACES = (
    ("Central Station", 48.1402, 11.5600, 0.16),
    ("Riverside Park", 48.1350, 11.5902, 0.14),
    ("City Stadium", 48.2188, 11.6247, 0.10),
    ("Old Town Square", 48.1374, 11.5755, 0.18),
    ("Harbour Front", 48.1105, 11.5302, 0.10),
    ("University Campus", 48.1508, 11.5803, 0.12),
    ("Lakeside Beach", 48.0650, 11.6601, 0.08),
    ("Market Hall", 48.1351, 11.5763, 0.12),
)
CAMPAIGN_PLACES = ("City Stadium", "Riverside Park")  # where the campaign's extra exposure lands

_CAPTIONS = (
    "Sunny afternoon at {place}", "Weekend vibes", "Out with friends", "Best day ever", "Can't stop smiling",
    "Quick break at {place}", "Golden hour", "Back at {place} again", "Summer mood", "Little things",
    "Finally some sun", "Lunch with the team", "Views from {place}", "No filter needed", "City walks",
)


@dataclass(frozen=True)
class PhotoSpec:
    """One photo to draw: where it goes (one path, or two for a two-logo training photo) and what it shows."""

    paths: tuple[str, ...]
    brands: tuple[str, ...]
    stream: int
    index: int
    sidecar: Optional[dict] = None
    closeup: bool = False  # the logo fills most of the frame (part of the training set)


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


def campaign_window() -> dict:
    """The campaign in config terms: weeks 5-8 of the feed, compared with the 4 weeks before and after."""
    start = FEED_START + timedelta(weeks=CAMPAIGN_WEEKS[0] - 1)
    end = FEED_START + timedelta(weeks=CAMPAIGN_WEEKS[1]) - timedelta(days=1)
    days = (end - start).days + 1
    return {"name": CAMPAIGN_NAME, "brand": brand_by_role("own").name, "start": start.isoformat(),
            "end": end.isoformat(), "baseline_days": days, "after_days": days,
            "competitors": [b.name for b in BRANDS if b.role != "own"]}


def _window(day: int) -> str:
    first, last = (CAMPAIGN_WEEKS[0] - 1) * 7, CAMPAIGN_WEEKS[1] * 7 - 1
    return "baseline" if day < first else ("campaign" if day <= last else "after")


def _place_boost(place: str) -> float:
    """Weight of a place in the campaign's extra exposure; averages to 1 over the feed's places."""
    raw = {name: (2.5 if name in CAMPAIGN_PLACES else 1.0) for name, *_ in PLACES}
    mean = sum(raw[name] * share for name, _, _, share in PLACES)
    return raw[place] / mean


def planted_rate(brand: Brand, day: int, place: Optional[str] = None) -> float:
    """The chance that a feed photo posted on `day` (0-based) at `place` shows `brand`."""
    if brand.role == "own":
        window = _window(day)
        if window == "campaign":
            extra = 0.10 * (_place_boost(place) if place else 1.0)
            return 0.10 + extra  # twice the baseline rate on average over places
        return 0.10 if window == "baseline" else 0.12
    if brand.role == "flat":
        return 0.10
    if brand.role == "drift":
        return 0.05 + 0.10 * day / (WEEKS * 7 - 1)
    return 0.06


def _mean_planted(brand: Brand, window: str) -> float:
    days = [d for d in range(WEEKS * 7) if _window(d) == window]
    shares = [(name, share) for name, _, _, share in PLACES]
    return float(np.mean([sum(share * planted_rate(brand, d, name) for name, share in shares) for d in days]))


def _training_plan(prefix: str, stream: int, per_brand: int, none: int, pair_fraction: float,
                   closeups: bool) -> list[PhotoSpec]:
    names = [b.name for b in BRANDS]
    pairs = list(combinations(names, 2))
    n_pairs = round(per_brand * pair_fraction * len(names) / 2)
    singles = per_brand - round(n_pairs * 2 / len(names))
    specs: list[PhotoSpec] = []
    index = 0
    for name in names:
        for k in range(singles):  # a third are close-ups, as people collect them when labelling
            specs.append(PhotoSpec((f"{prefix}/{name}/{prefix}-{index:05d}.jpg",), (name,), stream, index,
                                   closeup=closeups and k % 3 == 0))
            index += 1
    for k in range(n_pairs):  # one photo, two logos: the same bytes in both brands' folders
        a, b = pairs[k % len(pairs)]
        specs.append(PhotoSpec((f"{prefix}/{a}/{prefix}-{index:05d}.jpg", f"{prefix}/{b}/{prefix}-{index:05d}.jpg"),
                               (a, b), stream, index))
        index += 1
    for _ in range(none):
        specs.append(PhotoSpec((f"{prefix}/{NONE}/{prefix}-{index:05d}.jpg",), (), stream, index))
        index += 1
    return specs


def _feed_plan(seed: int, scale: Scale) -> list[PhotoSpec]:
    rng = np.random.default_rng([seed, 7001])
    names = [p[0] for p in PLACES]
    shares = np.array([p[3] for p in PLACES])
    coords = {p[0]: (p[1], p[2]) for p in PLACES}
    own = brand_by_role("own")
    specs: list[PhotoSpec] = []
    index = 0
    for day in range(WEEKS * 7):
        count = int(rng.integers(scale.daily_min, scale.daily_max + 1))
        seconds = np.sort(rng.normal(14.5 * 3600, 3.5 * 3600, count).clip(0, 86399)).astype(int)
        for second in seconds:
            place = names[int(rng.choice(len(names), p=shares))]
            shown = [b.name for b in BRANDS if rng.random() < planted_rate(b, day, place)]
            if len(shown) > 2:  # at most two logos in one photo
                shown = [shown[i] for i in sorted(rng.choice(len(shown), 2, replace=False))]
            posted = datetime.combine(FEED_START + timedelta(days=day), time(), timezone.utc) + timedelta(
                seconds=int(second))
            caption = _CAPTIONS[int(rng.integers(len(_CAPTIONS)))].format(place=place)
            if shown and rng.random() < 0.15:  # most posts never name the brand they show
                caption += " #" + shown[0].replace(" ", "").lower()
            if own.name in shown and _window(day) == "campaign" and rng.random() < 0.2:
                caption += " #" + CAMPAIGN_NAME.replace(" ", "").lower()
            lat, lon = coords[place]
            sidecar = {
                "posted_at": posted.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "latitude": round(lat + float(rng.normal(0, 0.0008)), 6),
                "longitude": round(lon + float(rng.normal(0, 0.0008)), 6),
                "place": place,
                "caption": caption,
                "reach": int(rng.lognormal(6.0, 1.4)) + 10,
                "author": f"user{int(rng.integers(1, 900)):03d}",
            }
            name = f"feed/{posted.strftime('%Y%m%d-%H%M%S')}-{index:05d}.jpg"
            specs.append(PhotoSpec((name,), tuple(shown), 3, index, sidecar))
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


def _render_all(root: Path, seed: int, specs: list[PhotoSpec], workers: int,
                on_progress: Optional[Callable[[int], None]]) -> list[list[int]]:
    """Draw every photo; with workers > 1 in spawned processes (same bytes either way: one RNG per photo)."""
    chunks = [specs[i:i + 100] for i in range(0, len(specs), 100)]
    results: list[list[int]] = []
    if workers <= 1:
        for chunk in chunks:
            results.extend(_render_chunk(str(root), seed, chunk))
            if on_progress:
                on_progress(len(chunk))
        return results
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for chunk, sizes in zip(chunks, pool.map(_render_chunk, [str(root)] * len(chunks),
                                                 [seed] * len(chunks), chunks)):
            results.extend(sizes)
            if on_progress:
                on_progress(len(chunk))
    return results


def resolve_scale(scale: "str | Scale") -> Scale:
    """A named scale (small, full) or a custom Scale as is."""
    if isinstance(scale, Scale):
        return scale
    if scale not in SCALES:
        raise ConfigError(f"unknown demo scale {scale!r} (valid: {', '.join(SCALES)})")
    return SCALES[scale]


def plan_world(seed: int, scale: "str | Scale") -> list[PhotoSpec]:
    """Every photo of the world, decided up front from the seed (drawing comes later)."""
    s = resolve_scale(scale)
    return (_training_plan("train", 1, s.train_per_brand, s.train_none, s.pair_fraction, closeups=True)
            + _training_plan("holdout", 2, s.holdout_per_brand, s.holdout_none, s.pair_fraction, closeups=False)
            + _feed_plan(seed, s))


def _observed(feed: list[PhotoSpec]) -> dict:
    """Realised share of feed photos showing each brand, per window, counted from the ground truth."""
    windows: dict[str, list[PhotoSpec]] = {"baseline": [], "campaign": [], "after": []}
    for spec in feed:
        day = (date.fromisoformat(spec.sidecar["posted_at"][:10]) - FEED_START).days
        windows[_window(day)].append(spec)
    return {b.name: {w: {"photos": len(items), "with_brand": sum(b.name in s.brands for s in items),
                         "rate": round(sum(b.name in s.brands for s in items) / max(1, len(items)), 4)}
                     for w, items in windows.items()} for b in BRANDS}


def _write_truth(path: Path, specs: list[PhotoSpec], sizes: list[list[int]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "brands", "logo_sizes", "posted_at", "place"])
        for spec, logo_sizes in zip(specs, sizes):
            side = spec.sidecar or {}
            writer.writerow([";".join(spec.paths), ";".join(spec.brands), ";".join(map(str, logo_sizes)),
                             side.get("posted_at", ""), side.get("place", "")])


def generate_world(out: Path, seed: int = 0, scale: "str | Scale" = "full", workers: int = 1,
                   on_progress: Optional[Callable[[int], None]] = None) -> World:
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
        chosen = [(s, z) for s, z in zip(specs, sizes) if s.stream == stream]
        _write_truth(out / "truth" / f"{name}.csv", [s for s, _ in chosen], [z for _, z in chosen])

    def folder_counts(stream: int) -> dict[str, int]:
        counts = {b.name: 0 for b in BRANDS} | {NONE: 0}
        for spec in specs:
            if spec.stream == stream:
                for brand in spec.brands or (NONE,):
                    counts[brand] += 1
        return counts

    world = World(
        root=out, seed=seed, scale=scale if isinstance(scale, str) else "custom", train_dir=out / "train",
        holdout_dir=out / "holdout", feed_dir=out / "feed", campaign=campaign_window(),
        counts={"train": folder_counts(1), "holdout": folder_counts(2), "feed_photos": len(feed),
                "two_logo_photos": sum(len(s.brands) == 2 for s in specs)},
        planted={b.name: {"role": b.role, **{w: round(_mean_planted(b, w), 4)
                                             for w in ("baseline", "campaign", "after")}} for b in BRANDS},
        observed=_observed(feed),
        sizes=[size for logo_sizes in sizes for size in logo_sizes],
    )
    (out / "world.json").write_text(json.dumps(world.summary(), indent=2), encoding="utf-8")
    return world


def planned_photo_count(seed: int, scale: "str | Scale") -> int:
    """How many photos `generate_world` will draw (for progress bars), without drawing them."""
    return len(plan_world(seed, scale))
