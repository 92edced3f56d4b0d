"""Window training (classifier.window_training): with feature_windows scoring the head learns from the windows."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from classifier.tiling import Tiling

WINDOWS = Tiling(True, 3, 0.25, "feature_windows", 2.0)
LOGO = 4  # the logo's side is 1/LOGO of the photo's
BRANDS = ("Check", "Stripes")


def _pattern(brand: str, side: int) -> np.ndarray:
    """A black-and-white logo: a checkerboard or horizontal stripes of 4 px (random convolutions see both)."""
    yy, xx = np.mgrid[0:side, 0:side]
    on = ((yy // 4) + (xx // 4)) % 2 if brand == "Check" else (yy // 4) % 2
    return np.repeat((on * 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _corner_photo(brand: str | None, seed: int, side: int = 128) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Busy grey background; a brand's small logo in a random corner, and its box."""
    rng = random.Random(seed)
    image = Image.new("RGB", (side, side), (rng.randint(90, 160),) * 3)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        tone, x, y, r = rng.randint(40, 220), rng.randint(0, side), rng.randint(0, side), rng.randint(3, side // 6)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(tone, tone, tone))
    logo = side // LOGO
    x = rng.choice([2, side - logo - 2])
    y = rng.choice([2, side - logo - 2])
    if brand:
        image.paste(Image.fromarray(_pattern(brand, logo)), (x, y))
    return image, (x, y, x + logo, y + logo)


def _corner_set(root: Path, per_brand: int, negatives: int, seed: int) -> Path:
    """root/<Brand>/*.png and root/none/*.png, with boxes.csv for the logos."""
    rows = []
    for index, brand in enumerate([*BRANDS, None]):
        folder = root / (brand or "none")
        folder.mkdir(parents=True)
        for i in range(per_brand if brand else negatives):
            name = f"{brand or 'none'}-{seed}-{i}.png"
            image, box = _corner_photo(brand, seed * 10_000 + index * 1000 + i)
            image.save(folder / name)
            if brand:
                rows.append([name, brand, *box])
    with (root / "boxes.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["image", "brand", "x1", "y1", "x2", "y2"], *rows])
    return root


RECIPE = dict(
    backbone="inception_v3",
    weights="none",
    input_size=75,
    epochs=60,
    views=2,
    ensemble=1,
    hidden=64,
    dropout=0.1,
    context_crops=1,
    hard_negatives=1,
    precision="float32",
    seed=0,
    progress=False,
)


@pytest.fixture(scope="module")
def corner(tmp_path_factory):
    """A tiny InceptionV3 (no weights, 75 px; windows pass 150 px) trained on windows of corner-logo photos.
    (Untrained MobileNets' features vanish to ~1e-14; InceptionV3's stay usable.)"""
    from classifier.dataset import load_dataset
    from classifier.train import train

    root = tmp_path_factory.mktemp("corner")
    train_root = _corner_set(root / "train", 24, 24, seed=0)
    held_root = _corner_set(root / "held", 24, 24, seed=1)
    dataset = load_dataset(train_root, boxes_csv=train_root / "boxes.csv", progress=False)
    model = train(dataset, cache_dir=root / "cache", tiling=WINDOWS, **RECIPE)
    return model, load_dataset(held_root, progress=False), root


def _held_out(model, held, tiling) -> dict:
    from classifier.evaluate import metrics_from_scores
    from classifier.images import read_rgb

    scores = model.scores([read_rgb(e.path) for e in held.examples], tiling=tiling)
    return metrics_from_scores(held.labels(model.classes), scores, model.classes, model.thresholds)


def test_the_bag_model_is_the_max_of_the_head_over_windows(corner):
    from classifier.window_training import bag_model, bag_scores

    model = corner[0]
    bags = np.random.default_rng(0).normal(size=(5, 10, model.feature_dim)).astype(np.float32)
    each = model.head.predict(bags.reshape(-1, model.feature_dim), verbose=0).reshape(5, 10, -1)
    np.testing.assert_allclose(bag_scores(model, bags), each.max(axis=1), atol=1e-6)
    member = bag_model(model.head_members[0], 10, model.feature_dim)
    np.testing.assert_allclose(member.predict(bags, verbose=0), each.max(axis=1), atol=1e-6)


def test_what_training_scored_is_what_predict_scores(corner):
    """The training graph's max over cached windows equals predict's windows scoring of the same photos."""
    from classifier.images import read_rgb
    from classifier.window_training import bag_scores
    from classifier.windows import window_features

    model, held, _ = corner
    photos = [read_rgb(e.path) for e in held.examples[:6]]
    trained_view = bag_scores(model, window_features(model, photos, WINDOWS))
    np.testing.assert_allclose(trained_view, model.scores(photos, tiling=WINDOWS, raw=True), atol=1e-5)


def test_window_training_finds_small_corner_logos_on_held_out_photos(corner):
    model, held, _ = corner
    found = _held_out(model, held, WINDOWS)
    # TensorFlow's threads are not bit-for-bit repeatable, so the trained head varies between runs: trained on 16
    # per brand and held out on 8, top-1 fell to 0.625 once in CI. With 24 and 24, six runs two at a time gave
    # AP 0.96-1.00 and top-1 0.90-1.00. Chance is about 1/3 (AP) and 1/2 (top-1).
    assert found["macro_average_precision"] >= 0.75, found
    assert found["brand_top1_accuracy"] >= 0.75, found


@pytest.mark.slow
def test_window_training_beats_whole_photo_training_on_small_logos(corner):
    """The same recipe trained and scored on whole photos ranks the corner logos clearly worse (seen: 0.67 vs 0.93)."""
    from classifier.dataset import load_dataset
    from classifier.train import train

    model, held, root = corner
    dataset = load_dataset(root / "train", boxes_csv=root / "train" / "boxes.csv", progress=False)
    whole = train(dataset, cache_dir=root / "cache", **RECIPE)
    windows_ap = _held_out(model, held, WINDOWS)["macro_average_precision"]
    assert windows_ap >= _held_out(whole, held, None)["macro_average_precision"] + 0.1


def test_the_bundle_records_window_training_and_a_different_scoring_warns(corner, tmp_path):
    from classifier.model import LogoClassifier
    from monitor.config import TilingSettings
    from monitor.model import calibration_mismatch

    model = corner[0]
    training = model.info["training"]
    assert training["head_trained_on"] == "feature_windows"
    assert training["logo_free_tiles"] > 0 and training["window_bags"] > 0
    loaded = LogoClassifier.load(model.save(tmp_path / "bundle"))
    assert loaded.info["training"]["tiling"]["head_trained_on"] == "feature_windows"
    same = TilingSettings(enabled=True, mode="feature_windows", scale=2.0)
    assert calibration_mismatch(loaded.info, same) is None
    for other in (
        TilingSettings(enabled=False),
        TilingSettings(enabled=True),
        TilingSettings(**{**same.model_dump(), "scale": 1.5}),
    ):
        warning = calibration_mismatch(loaded.info, other)
        assert warning and "head was trained" in warning and "feature windows 3x3 at 2x" in warning


def test_window_bags_label_tiles_from_the_boxes():
    from classifier.dataset import Box, Example
    from classifier.features import Item
    from classifier.window_training import window_bags

    logo = Example(Path("a.jpg"), "a" * 64, frozenset({"Red"}), 120, 120, boxes=[Box("Red", 2, 2, 20, 20)])
    blank = Example(Path("b.jpg"), "b" * 64, frozenset(), 120, 120)
    unboxed = Example(Path("c.jpg"), "c" * 64, frozenset({"Blue"}), 120, 120)
    items = [
        Item(logo, logo.brands),
        Item(blank, frozenset()),
        Item(unboxed, unboxed.brands),
        Item(logo, logo.brands, (0, 0, 60, 60)),
    ]
    labels = np.array([[1, 0], [0, 0], [0, 1], [1, 0]], np.float32)
    features = np.arange(4 * 2 * 10 * 3, dtype=np.float32).reshape(4, 2, 10, 3)
    bags, targets, negatives = window_bags(items, labels, features, WINDOWS, ["Red", "Blue"])
    # 8 views as bags; then only the boxed whole photo's tiles: the top-left one holds the box (a positive),
    # the 8 the box does not touch are logo-free, packed into one bag of 10 (topped up from its start); the
    # positive goes into a bag of its own with 9 logo-free fillers
    assert negatives == 8 and len(bags) == 8 + 2
    assert not targets[8].any() and targets[9].tolist() == [1.0, 0.0]
    free = [features[0, 0, 1 + k] for k in range(1, 9)]
    np.testing.assert_array_equal(bags[8], np.stack(free + free[:2]))
    np.testing.assert_array_equal(bags[9][0], features[0, 0, 1])
    assert all(any((w == f).all() for f in free) for w in bags[9][1:])
    without, _, _ = window_bags(items, labels, features, WINDOWS, ["Red", "Blue"], positives=False)
    assert len(without) == 8 + 1


def test_window_features_are_cached_apart_from_whole_photo_features(corner):
    from classifier.augment import augment_params
    from classifier.features import FeatureCache

    model, _, root = corner
    plain = FeatureCache(root / "cache", model, augment_params(views=2))
    windows = FeatureCache(root / "cache", model, augment_params(views=2), WINDOWS)
    assert plain.key != windows.key
    assert plain.shape == (model.feature_dim,) and windows.shape == (10, model.feature_dim)
    assert windows.side == 150 and plain.side == 75


def test_fine_tuning_with_window_training_is_refused(corner):
    from classifier.dataset import load_dataset
    from classifier.errors import ClassifierError
    from classifier.train import train

    _, _, root = corner
    dataset = load_dataset(root / "train", progress=False)
    with pytest.raises(ClassifierError, match="--no-tiling"):
        train(
            dataset,
            backbone="mobilenet_v1_025",
            weights="none",
            input_size=48,
            fine_tune=2,
            tiling=WINDOWS,
            progress=False,
        )


def test_window_features_are_kept_as_float16_equal_to_the_pass_up_to_rounding(corner):
    from classifier.augment import augment_params
    from classifier.features import FeatureCache, Item
    from classifier.windows import window_features

    model, held, root = corner
    items = [Item(e, e.brands) for e in held.examples[:6]]
    cache = FeatureCache(root / "cache-float16", model, augment_params(views=1), WINDOWS)
    stored = cache.features(items, 1, progress=False)[:, 0]
    direct = window_features(model, [item.pixels() for item in items], WINDOWS)
    assert stored.dtype == np.float16 and direct.dtype == np.float32
    np.testing.assert_allclose(stored.astype(np.float32), direct, rtol=1e-3, atol=1e-3 * np.abs(direct).max())
    again = FeatureCache(root / "cache-float16", model, augment_params(views=1), WINDOWS)
    np.testing.assert_array_equal(again.features(items, 1, progress=False)[:, 0], stored)  # read back as written
