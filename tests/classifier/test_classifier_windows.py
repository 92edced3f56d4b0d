"""Feature-map windows (classifier.windows): one backbone pass, the head on pooled windows of its feature map."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.tiling import Tiling, tile_boxes

WINDOWS = Tiling(True, 3, 0.25, "feature_windows", 2.0)


def _photos(count: int, side: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (side, side + 13, 3), dtype=np.uint8) for _ in range(count)]


@pytest.fixture(scope="module")
def tapped():
    """A tiny InceptionV3 (no weights, 75 px: valid padding, 1x1 map; 3x3 at 2x) with the shipped head layout."""
    from classifier.model import LogoClassifier

    return LogoClassifier.create(
        ["a", "b"],
        backbone="inception_v3",
        weights="none",
        input_size=75,
        pooling="avg_max",
        mid_level=True,
        ensemble=2,
        precision="float32",
    )


def test_map_windows_cover_the_actual_map_size():
    from classifier.windows import map_windows

    boxes = tile_boxes(3, 0.25)
    for height, width in [(3, 3), (8, 8), (17, 17), (10, 7)]:
        cells = map_windows(boxes, height, width)
        assert cells[0] == (0, height, 0, width)  # the whole map first
        for top, bottom, left, right in cells:
            assert 0 <= top < bottom <= height and 0 <= left < right <= width
        assert {c[1] for c in cells[1:]} >= {height} and {c[0] for c in cells[1:]} >= {0}


def test_one_window_over_the_whole_map_equals_whole_photo_scores(tapped):
    from classifier.windows import window_scores

    photos = _photos(3, 90, seed=1)
    windows = window_scores(tapped, photos, Tiling(True, 3, 0.25, "feature_windows", 1.0))
    whole = tapped.predict(photos, raw=True)
    assert windows.shape == (3, 10, 2)
    np.testing.assert_allclose(windows[:, 0], whole, atol=1e-5)


def test_window_scores_are_probabilities_and_the_max_over_windows(tapped):
    from classifier.windows import window_scores

    photos = _photos(3, 120, seed=2)
    each = window_scores(tapped, photos, WINDOWS)
    best = tapped.scores(photos, tiling=WINDOWS, raw=True)
    assert np.isfinite(each).all() and (each >= 0).all() and (each <= 1).all()
    np.testing.assert_allclose(best, each.max(axis=1), atol=1e-6)
    found = tapped.detect(photos, tiling=WINDOWS, thresholds={"a": 0.0, "b": 0.0})
    assert all(d.box in WINDOWS.boxes() for row in found for d in row)


def _planted(side: int, corner: bool) -> np.ndarray:
    """Grey, with a black-and-white checkerboard over the top-left quarter-side square (or everywhere)."""
    image = np.full((side, side, 3), 128, np.uint8)
    yy, xx = np.mgrid[0:side, 0:side]
    board = (((yy // 4) + (xx // 4)) % 2 * 255).astype(np.uint8)
    reach = side // 4 if corner else side
    image[:reach, :reach] = board[:reach, :reach, None]
    return image


def test_a_small_pattern_in_a_corner_scores_higher_in_windows_than_on_the_whole_photo():
    """The head is set to score "looks like the pattern" (its feature direction); the pattern fills 1/16 of it."""
    from classifier.model import LogoClassifier

    model = LogoClassifier.create(
        ["pattern"], backbone="inception_v3", weights="none", input_size=75, hidden=4, precision="float32"
    )
    grey, full = model.features([np.full((150, 150, 3), 128, np.uint8), _planted(150, False)])
    direction = full - grey
    gap = float(direction @ direction)
    offset, slope = 10.0 * gap, 4.0 / gap
    hidden, out = model.head.get_layer("head_hidden"), model.head.get_layer("brand_scores")
    kernel = np.zeros(hidden.kernel.shape, np.float32)
    kernel[:, 0] = direction
    bias = np.zeros(hidden.bias.shape, np.float32)
    bias[0] = offset - float(direction @ (grey + full)) / 2  # unit 0: the projection, centred, kept above zero
    hidden.set_weights([kernel, bias])
    out_kernel = np.zeros(out.kernel.shape, np.float32)
    out_kernel[0, 0] = slope
    out.set_weights([out_kernel, np.array([-slope * offset], np.float32)])
    model.invalidate_compiled()
    assert model.scores([_planted(150, False)], raw=True)[0, 0] > 0.8  # the head reads the pattern
    assert model.scores([np.full((150, 150, 3), 128, np.uint8)], raw=True)[0, 0] < 0.2

    photo = _planted(150, True)
    whole = model.scores([photo], raw=True)[0, 0]
    windowed, winner = model._tiled([photo], WINDOWS, batch_size=4, raw=True)
    assert windowed[0, 0] > whole + 0.05
    assert WINDOWS.boxes()[int(winner[0, 0])][:2] == (0.0, 0.0)  # the window over the top-left corner won


def test_tiling_records_the_mode_and_keeps_older_records():
    crops = Tiling(True, 3, 0.25)
    assert crops.as_dict() == {"enabled": True, "grid": 3, "overlap": 0.25}  # what older bundles hold
    assert Tiling.of(WINDOWS.as_dict()) == WINDOWS and Tiling.of(crops.as_dict()) == crops
    assert WINDOWS.work_side(299) == 598 and crops.work_side(299) == 897
    assert "feature windows 3x3 at 2x" in WINDOWS.mismatch(crops.as_dict())
    assert WINDOWS.mismatch(WINDOWS.as_dict()) is None and crops.mismatch(None) is not None
    with pytest.raises(ValueError, match="feature_windows"):
        Tiling(True, mode="tiles")
