"""The demo's generated world: deterministic, laid out for the classifier and the folder source, effects planted."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monitor.demo.logos import BRANDS, brand_by_role, brand_names, lockup, symbol
from monitor.demo.world import FEED_START, NONE, PLACES, Scale, campaign_window, generate_world, plan_world

TINY = Scale(
    train_per_brand=5, train_none=4, holdout_per_brand=2, holdout_none=2, daily_min=2, daily_max=3, pair_fraction=0.4
)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _truth(root: Path, name: str) -> list[dict[str, str]]:
    with (root / "truth" / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory):
    """One `small` world drawn once for the checks below."""
    root = tmp_path_factory.mktemp("world")
    return generate_world(root, seed=3, scale="small")


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate_world(tmp_path / "a", seed=11, scale=TINY)
    second = generate_world(tmp_path / "b", seed=11, scale=TINY)
    other = generate_world(tmp_path / "c", seed=12, scale=TINY)
    a, b, c = _digests(first.root), _digests(second.root), _digests(other.root)
    assert len(a) > 200
    assert a == b
    feed_a = {k: v for k, v in a.items() if k.startswith("feed/")}
    feed_c = {k: v for k, v in c.items() if k.startswith("feed/")}
    assert not set(feed_a.values()) & set(feed_c.values())


def test_logos_are_four_distinct_drawings() -> None:
    arrays = [np.asarray(symbol(name).convert("RGB"), dtype=np.int16) for name in brand_names()]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert np.abs(arrays[i] - arrays[j]).mean() > 30
    assert all(lockup(name).height > symbol(name).height for name in brand_names())
    assert [b.role for b in BRANDS].count("own") == 1


def test_training_layout_matches_the_classifier_folders(small_world) -> None:
    root = small_world.train_dir
    assert sorted(p.name for p in root.iterdir()) == sorted([*brand_names(), NONE])
    for folder, expected in small_world.counts["train"].items():
        photos = list((root / folder).glob("*.jpg"))
        assert len(photos) == expected > 0
    holdout = small_world.holdout_dir
    assert sorted(p.name for p in holdout.iterdir()) == sorted([*brand_names(), NONE])
    assert not {p.name for p in root.rglob("*.jpg")} & {p.name for p in holdout.rglob("*.jpg")}
    sample = next((root / NONE).glob("*.jpg"))
    with Image.open(sample) as image:
        assert (image.format, image.size) == ("JPEG", (320, 240))


def test_two_logo_photos_are_the_same_bytes_in_both_folders(small_world) -> None:
    pairs = [row for row in _truth(small_world.root, "train") if ";" in row["path"]]
    assert len(pairs) >= 5
    for row in pairs:
        first, second = row["path"].split(";")
        assert Path(first).parent != Path(second).parent
        assert Path(first).name == Path(second).name
        assert (small_world.root / first).read_bytes() == (small_world.root / second).read_bytes()
        assert sorted(row["brands"].split(";")) == sorted([Path(first).parent.name, Path(second).parent.name])


def test_feed_photos_have_sidecars_inside_the_twelve_weeks(small_world) -> None:
    photos = sorted(small_world.feed_dir.glob("*.jpg"))
    assert len(photos) == small_world.counts["feed_photos"] > 12 * 7 * 10
    places = {p[0] for p in PLACES}
    for photo in photos[::7]:
        meta = json.loads(Path(f"{photo}.json").read_text(encoding="utf-8"))
        assert set(meta) == {"posted_at", "latitude", "longitude", "place", "caption", "reach", "author"}
        posted = datetime.fromisoformat(meta["posted_at"].replace("Z", "+00:00"))
        assert posted.tzinfo == UTC and meta["posted_at"].endswith("Z")
        assert 0 <= (posted.date() - FEED_START).days < 84
        assert meta["place"] in places and isinstance(meta["reach"], int) and meta["reach"] > 0
        assert abs(photo.stat().st_mtime - posted.timestamp()) < 1


def _window_rates(rows: list[dict[str, str]], brand: str) -> dict[str, float]:
    window = campaign_window()
    start, end = date.fromisoformat(window["start"]), date.fromisoformat(window["end"])
    counts: dict[str, list[int]] = {"baseline": [0, 0], "campaign": [0, 0], "after": [0, 0]}
    for row in rows:
        day = date.fromisoformat(row["posted_at"][:10])
        key = "baseline" if day < start else ("campaign" if day <= end else "after")
        counts[key][0] += 1
        counts[key][1] += brand in row["brands"].split(";")
    return {key: shown / total for key, (total, shown) in counts.items()}


def test_planted_rates_are_in_the_ground_truth(small_world) -> None:
    rows = _truth(small_world.root, "feed")
    own = _window_rates(rows, brand_by_role("own").name)
    flat = _window_rates(rows, brand_by_role("flat").name)
    drift = _window_rates(rows, brand_by_role("drift").name)
    assert 1.6 < own["campaign"] / own["baseline"] < 2.8
    assert 0.7 < flat["campaign"] / flat["baseline"] < 1.4
    assert drift["baseline"] < drift["campaign"] < drift["after"]
    assert drift["after"] / drift["baseline"] > 1.5
    observed = small_world.observed[brand_by_role("own").name]
    assert observed["campaign"]["rate"] == pytest.approx(own["campaign"], abs=1e-4)
    written = json.loads((small_world.root / "world.json").read_text(encoding="utf-8"))
    assert written["planted"][brand_by_role("own").name]["campaign"] == pytest.approx(
        2 * written["planted"][brand_by_role("own").name]["baseline"]
    )
    assert written["campaign"] == campaign_window()
    assert (date.fromisoformat(written["campaign"]["start"]) - FEED_START).days == 28
    assert (date.fromisoformat(written["campaign"]["end"]) - FEED_START).days == 55


def test_the_full_plan_has_the_planted_effect_at_feed_scale() -> None:
    feed = [spec for spec in plan_world(0, "full") if spec.sidecar]
    assert 3000 <= len(feed) <= 5000
    rows = [{"posted_at": s.sidecar["posted_at"], "brands": ";".join(s.brands)} for s in feed]
    own = _window_rates(rows, brand_by_role("own").name)
    assert 1.7 < own["campaign"] / own["baseline"] < 2.3
    assert sum(not s.brands for s in feed) / len(feed) > 0.5
    named = [s for s in feed if s.brands and any(b.replace(" ", "").lower() in s.sidecar["caption"] for b in s.brands)]
    assert len(named) / sum(bool(s.brands) for s in feed) < 0.3


def test_logos_are_drawn_at_varied_scales(small_world) -> None:
    sizes = np.array(
        [int(size) for row in _truth(small_world.root, "train") for size in row["logo_sizes"].split(";") if size]
    )
    assert len(sizes) > 150
    assert sizes.min() < 85 and sizes.max() > 180  # wide shots and close-ups
    low, high = np.percentile(sizes, [10, 90])
    assert high / low > 1.8
    feed = np.array(
        [int(size) for row in _truth(small_world.root, "feed") for size in row["logo_sizes"].split(";") if size]
    )
    assert feed.max() <= 170 and feed.min() < 85
