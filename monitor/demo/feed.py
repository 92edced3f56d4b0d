"""The demo's 12-week feed: places, the planted rates per brand and day, the campaign, and the photos to draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np

from monitor.demo.logos import BRANDS, Brand, brand_by_role

if TYPE_CHECKING:
    from monitor.demo.world import Scale

FEED_START = date(2026, 6, 1)  # a Monday; the feed covers 12 weeks from here
WEEKS = 12
CAMPAIGN_WEEKS = (5, 8)  # inclusive, 1-based
CAMPAIGN_NAME = "Summer Splash"

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
    "Sunny afternoon at {place}",
    "Weekend vibes",
    "Out with friends",
    "Best day ever",
    "Can't stop smiling",
    "Quick break at {place}",
    "Golden hour",
    "Back at {place} again",
    "Summer mood",
    "Little things",
    "Finally some sun",
    "Lunch with the team",
    "Views from {place}",
    "No filter needed",
    "City walks",
)


@dataclass(frozen=True)
class PhotoSpec:
    """One photo to draw: where it goes (one path, or two for a two-logo training photo) and what it shows."""

    paths: tuple[str, ...]
    brands: tuple[str, ...]
    stream: int
    index: int
    sidecar: dict | None = None
    closeup: bool = False  # the logo fills most of the frame (part of the training set)


def campaign_window() -> dict:
    """The campaign in config terms: weeks 5-8 of the feed, compared with the 4 weeks before and after."""
    start = FEED_START + timedelta(weeks=CAMPAIGN_WEEKS[0] - 1)
    end = FEED_START + timedelta(weeks=CAMPAIGN_WEEKS[1]) - timedelta(days=1)
    days = (end - start).days + 1
    return {
        "name": CAMPAIGN_NAME,
        "brand": brand_by_role("own").name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "baseline_days": days,
        "after_days": days,
        "competitors": [b.name for b in BRANDS if b.role != "own"],
    }


def feed_window(day: int) -> str:
    first, last = (CAMPAIGN_WEEKS[0] - 1) * 7, CAMPAIGN_WEEKS[1] * 7 - 1
    return "baseline" if day < first else ("campaign" if day <= last else "after")


def _place_boost(place: str) -> float:
    """Weight of a place in the campaign's extra exposure; averages to 1 over the feed's places."""
    raw = {name: (2.5 if name in CAMPAIGN_PLACES else 1.0) for name, *_ in PLACES}
    mean = sum(raw[name] * share for name, _, _, share in PLACES)
    return raw[place] / mean


def planted_rate(brand: Brand, day: int, place: str | None = None) -> float:
    """The chance that a feed photo posted on `day` (0-based) at `place` shows `brand`."""
    if brand.role == "own":
        window = feed_window(day)
        if window == "campaign":
            extra = 0.10 * (_place_boost(place) if place else 1.0)
            return 0.10 + extra  # twice the baseline rate on average over places
        return 0.10 if window == "baseline" else 0.12
    if brand.role == "flat":
        return 0.10
    if brand.role == "drift":
        return 0.05 + 0.10 * day / (WEEKS * 7 - 1)
    return 0.06


def mean_planted(brand: Brand, window: str) -> float:
    days = [d for d in range(WEEKS * 7) if feed_window(d) == window]
    shares = [(name, share) for name, _, _, share in PLACES]
    return float(np.mean([sum(share * planted_rate(brand, d, name) for name, share in shares) for d in days]))


def feed_pair_share() -> float:
    """The share of a brand's feed photos that show a second logo too (about 0.27), averaged over brands.

    Two logos share the frame, so each is drawn smaller and found less often; labelled photos drawn with
    the feed's share of them measure the recall the feed will see."""
    shares = [(name, share) for name, _, _, share in PLACES]
    with_brand = with_pair = 0.0
    for day in range(WEEKS * 7):
        for place, share in shares:
            rates = [planted_rate(b, day, place) for b in BRANDS]
            for i, rate in enumerate(rates):
                alone = float(np.prod([1 - r for j, r in enumerate(rates) if j != i]))
                with_brand += share * rate
                with_pair += share * rate * (1 - alone)
    return with_pair / with_brand


def feed_plan(seed: int, scale: Scale) -> list[PhotoSpec]:
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
            posted = datetime.combine(FEED_START + timedelta(days=day), time(), UTC) + timedelta(seconds=int(second))
            caption = _CAPTIONS[int(rng.integers(len(_CAPTIONS)))].format(place=place)
            if shown and rng.random() < 0.15:  # most posts never name the brand they show
                caption += " #" + shown[0].replace(" ", "").lower()
            if own.name in shown and feed_window(day) == "campaign" and rng.random() < 0.2:
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
