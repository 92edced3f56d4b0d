"""LogoClassifier: lazy import, batched prediction, detection, tiling, bundle round trip and checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drawn_photos import BRANDS, draw_photo

SIZE = 75


@pytest.fixture(scope="module")
def model(trained):
    """The session's tiny trained InceptionV3 (no weights, 75 px); tests must not change it."""
    return trained[0]


@pytest.fixture(scope="module")
def small_model():
    """A fast-building model for the bundle checks."""
    from classifier import LogoClassifier

    return LogoClassifier.create(list(BRANDS), backbone="mobilenet_v1_025", weights="none", input_size=32)


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(3)
    return [
        np.asarray(draw_photo(("Acme",), 1)),
        draw_photo(("Bolt", "Corona"), 2, size=(160, 90)),  # a PIL image, another size
        rng.integers(0, 255, (50, 64), dtype=np.uint8),  # grey
        rng.integers(0, 255, (80, 70, 4), dtype=np.uint8),  # RGBA
        np.asarray(draw_photo((), 5, size=(300, 200))),
    ]


def test_importing_classifier_does_not_load_tensorflow():
    code = "import sys, classifier, classifier.errors; assert 'tensorflow' not in sys.modules, 'TF loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tensorflow_start_up_notices_stay_off_the_terminal_and_other_output_does_not():
    code = (
        "import sys; from classifier.tf_import import import_tensorflow; tf = import_tensorflow(); "
        "import keras; print('after import', file=sys.stderr); print(tf.__version__)"
    )
    plain = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, check=True)
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert quiet.stdout.strip().startswith("2.") and quiet.stderr.strip() == "after import", quiet.stderr
    assert "absl::InitializeLog" in plain.stderr or plain.stderr.strip() == "", "TensorFlow prints other notices now"


def test_predict_gives_one_probability_per_brand_whatever_the_batch(model, photos):
    scores = model.predict(photos, batch_size=32)
    assert scores.shape == (len(photos), len(BRANDS)) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1))
    assert len({tuple(np.round(row, 6)) for row in scores}) > 1, "different photos should score differently"
    # Without AVX-512, float32 sums depend on the batch size: CI saw 2.2e-5 relative at batch 2 against 32.
    np.testing.assert_allclose(model.predict(photos, batch_size=2), scores, rtol=1e-4, atol=1e-6)
    assert model.predict([]).shape == (0, len(BRANDS))


def test_detect_uses_thresholds_and_overrides(model, photos):
    scores = model.predict(photos)
    ordered = np.sort(scores[:, 0])
    cut = float(ordered[1] + ordered[2]) / 2  # between two photos' scores: no ties with the threshold
    never = 1.0 + 1e-6  # above any probability, even a sigmoid saturated to exactly 1.0 in float32
    found = model.detect(photos, thresholds={"Acme": cut, "Bolt": never, "Corona": never})
    for row, detections in zip(scores, found):
        assert [d.brand for d in detections] == (["Acme"] if row[0] >= cut else [])
        assert all(d.box is None for d in detections)
    everything = model.detect(photos, thresholds={b: 0.0 for b in BRANDS})
    assert all(sorted(d.brand for d in dets) == sorted(BRANDS) for dets in everything)
    assert all(
        [d.confidence for d in dets] == sorted((d.confidence for d in dets), reverse=True) for dets in everything
    )
    from classifier.errors import ClassifierError

    with pytest.raises(ClassifierError, match="Nope"):
        model.detect(photos, thresholds={"Nope": 0.5})


def test_tiling_takes_the_max_over_tiles_and_reports_the_tile(model, photos):
    from classifier.images import tile_boxes
    from monitor.config import TilingSettings

    tiling = TilingSettings(enabled=True, grid=2, overlap=0.25, mode="crops")
    boxes = tile_boxes(2, 0.25)
    assert len(boxes) == 5 and boxes[0] == (0.0, 0.0, 1.0, 1.0) and boxes[-1][2:] == (1.0, 1.0)
    tiled, winner = model.predict_tiled(photos, grid=2, overlap=0.25)
    raw_tiled, _ = model.predict_tiled(photos, grid=2, overlap=0.25, raw=True)
    whole = model.predict(photos, raw=True)
    # The whole photo is one of the boxes, but scored in other batches: without AVX-512, float32 sums
    # depend on the batch (CI saw more than 1e-6 apart), hence a relative tolerance on the raw scores.
    assert np.all(raw_tiled >= whole * (1 - 1e-4) - 1e-6)
    np.testing.assert_allclose(tiled, model.calibrated(raw_tiled), rtol=1e-6)
    detections = model.detect(photos, thresholds={b: 0.0 for b in BRANDS}, tiling=tiling)
    for index, dets in enumerate(detections):
        for det in dets:
            col = BRANDS.index(det.brand)
            assert det.box == boxes[winner[index, col]]
            assert det.confidence == pytest.approx(float(tiled[index, col]))


def test_bundle_round_trip_gives_identical_predictions(model, photos, tmp_path):
    from classifier import LogoClassifier

    model.save(tmp_path / "bundle")
    loaded = LogoClassifier.load(tmp_path / "bundle")
    np.testing.assert_array_equal(loaded.predict(photos), model.predict(photos))
    assert (loaded.classes, loaded.thresholds, loaded.backbone, loaded.input_size) == (
        model.classes,
        model.thresholds,
        "inception_v3",
        SIZE,
    )
    assert len(set(loaded.thresholds.values())) > 1
    assert loaded.metrics == model.metrics and "per_brand" in loaded.metrics
    assert loaded.info["training"]["data_fingerprint"] == model.info["training"]["data_fingerprint"]
    assert loaded.checksum == model.checksum and len(loaded.checksum) == 64
    assert loaded.bundle_path == (tmp_path / "bundle").resolve()


@pytest.mark.parametrize(
    "pooling, mid_level, width", [("avg", False, 256), ("avg_max", False, 512), ("avg_max", True, 768)]
)
def test_pooled_features_keep_the_strongest_response_and_the_mid_level_block(photos, pooling, mid_level, width):
    from classifier import LogoClassifier

    model = LogoClassifier.create(
        list(BRANDS), backbone="mobilenet_v1_025", weights="none", input_size=64, pooling=pooling, mid_level=mid_level
    )
    features = model.features(photos)
    assert model.feature_dim == width and features.shape == (len(photos), width)
    if pooling == "avg_max":  # [mid avg, mid max,] last avg, last max: each channel's max is at least its mean
        mean, top = features[:, -512:-256], features[:, -256:]  # random weights: tiny but positive activations
        assert np.all(top >= mean * (1 - 1e-5)) and np.any(top > mean * 1.5)


def test_bundle_round_trip_keeps_the_pooling_and_old_bundles_still_load(photos, tmp_path):
    from classifier import LogoClassifier
    from classifier.errors import BundleError

    model = LogoClassifier.create(
        list(BRANDS),
        backbone="mobilenet_v1_025",
        weights="none",
        input_size=64,
        pooling="avg_max",
        mid_level=True,
        ensemble=2,
    )
    model.save(tmp_path / "new")
    loaded = LogoClassifier.load(tmp_path / "new")
    assert (loaded.pooling, loaded.mid_level, loaded.feature_dim, loaded.ensemble) == ("avg_max", True, 768, 2)
    np.testing.assert_array_equal(loaded.predict(photos), model.predict(photos))
    plain = LogoClassifier.create(list(BRANDS), backbone="mobilenet_v1_025", weights="none", input_size=64)
    plain.save(tmp_path / "old")
    manifest = json.loads((tmp_path / "old" / "bundle.json").read_text())
    _edit_manifest(tmp_path / "old", head={k: manifest["head"][k] for k in ("dropout", "hidden")})  # as before
    old = LogoClassifier.load(tmp_path / "old")
    assert (old.pooling, old.mid_level, old.ensemble) == ("avg", False, 1)
    np.testing.assert_array_equal(old.predict(photos), plain.predict(photos))
    _edit_manifest(tmp_path / "old", head={**manifest["head"], "pooling": "median"})
    with pytest.raises(BundleError, match="unknown pooling 'median'"):
        LogoClassifier.load(tmp_path / "old")


def _edit_manifest(bundle: Path, **changes) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest.update(changes)
    (bundle / "bundle.json").write_text(json.dumps(manifest))


def _break(kind: str, bundle: Path) -> None:
    weights = bundle / "model.weights.h5"
    if kind == "missing manifest":
        (bundle / "bundle.json").unlink()
    elif kind == "missing weights":
        weights.unlink()
    elif kind == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:5000])
    elif kind == "replaced weights":
        data = bytearray(weights.read_bytes())
        data[-100] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif kind == "class count":
        _edit_manifest(bundle, classes=[*BRANDS, "Extra"], thresholds={b: 0.5 for b in [*BRANDS, "Extra"]})
    elif kind == "wrong backbone":
        _edit_manifest(bundle, backbone="mobilenet_v2")
    elif kind == "impossible size":
        _edit_manifest(bundle, backbone="inception_v3")
    elif kind == "unknown backbone":
        _edit_manifest(bundle, backbone="resnet9000")
    elif kind == "bad json":
        (bundle / "bundle.json").write_text("{not json")


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing manifest", "bundle.json is missing"),
        ("missing weights", "model.weights.h5 is missing"),
        ("truncated weights", "corrupt"),
        ("replaced weights", "sha256"),
        ("class count", "score 3 brands but bundle.json lists 4"),
        ("wrong backbone", "do not fit backbone 'mobilenet_v2'"),
        ("impossible size", "input size 32 is too small for inception_v3"),
        ("unknown backbone", "backbone 'resnet9000' is unknown"),
        ("bad json", "unreadable"),
    ],
)
def test_bad_bundles_are_explained(small_model, tmp_path, kind, message):
    from classifier import LogoClassifier
    from classifier.errors import BundleError

    bundle = tmp_path / "bundle"
    small_model.save(bundle)
    _break(kind, bundle)
    with pytest.raises(BundleError, match=message):
        LogoClassifier.load(bundle)


def test_missing_bundle_directory_is_explained(tmp_path):
    from classifier import LogoClassifier
    from classifier.errors import BundleError

    with pytest.raises(BundleError, match="does not exist"):
        LogoClassifier.load(tmp_path / "nowhere")


def test_unusable_weights_are_explained(tmp_path):
    from classifier import LogoClassifier
    from classifier.errors import ClassifierError, WeightsUnavailable

    with pytest.raises(WeightsUnavailable, match="does not exist"):
        LogoClassifier.create(["a"], backbone="mobilenet_v1_025", weights=str(tmp_path / "no.h5"), input_size=96)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file")
    with pytest.raises(WeightsUnavailable, match="junk.h5"):
        LogoClassifier.create(["a"], backbone="mobilenet_v1_025", weights=str(junk), input_size=96)
    with pytest.raises(ClassifierError, match="unknown backbone"):
        LogoClassifier.create(["a"], backbone="vgg", weights="none")
