"""Training on drawn photos really learns; thresholds, metrics and the feature cache are kept."""

from __future__ import annotations

import warnings

import numpy as np

from drawn_photos import BRANDS


def test_training_learns_brands_far_above_chance_on_held_out_photos(trained, drawn_sets):
    from classifier.dataset import load_dataset
    from classifier.evaluate import evaluate

    model, _, _ = trained
    heldout = load_dataset(drawn_sets[1], progress=False)
    metrics = evaluate(model, heldout)
    assert metrics["photos"] == 40 and metrics["single_brand_photos"] == 30 and metrics["nologo_photos"] == 10
    assert metrics["brand_top1_accuracy"] >= 0.7, metrics  # chance is 1/3
    assert metrics["macro_average_precision"] >= 0.8, metrics
    assert metrics["micro_recall"] >= 0.6 and metrics["micro_precision"] >= 0.6, metrics
    assert set(metrics["per_brand"]) == set(BRANDS)
    assert {"precision", "recall", "f1", "ap", "support"} <= set(metrics["per_brand"]["Acme"])


def test_training_calibrates_thresholds_and_records_metrics(trained):
    model, _, dataset = trained
    assert set(model.thresholds) == set(BRANDS)
    assert all(0.02 <= t <= 0.98 for t in model.thresholds.values())
    assert len(set(model.thresholds.values())) > 1  # calibrated per brand, not a constant
    assert model.metrics["photos"] == model.info["training"]["validation_photos"] > 0
    assert model.metrics["per_brand"]["Bolt"]["support"] > 0
    assert model.info["training"]["data_fingerprint"] == dataset.fingerprint()


def test_feature_cache_is_reused_and_keyed_by_settings(trained):
    from classifier.augment import augment_params
    from classifier.features import FeatureCache, Item
    from classifier.model import LogoClassifier

    model, cache_root, dataset = trained
    params = augment_params(None, views=3)
    cache = FeatureCache(cache_root, model, params)
    files = sorted(cache.folder.glob("*.npy"))
    assert files, "training should have filled the cache"
    before = {f: f.stat().st_mtime_ns for f in files}
    train_set = dataset.split(0.2, seed=0)[0]  # the split train() made: these photos have 3 cached views
    items = [Item(e, e.brands) for e in train_set.examples[:4]]
    first = cache.features(items, 3, progress=False)
    assert first.shape == (4, 3, model.feature_dim)
    assert {f: f.stat().st_mtime_ns for f in files} == before  # read back, not recomputed
    assert not np.allclose(first[:, 0], first[:, 1])  # an augmented view differs from the plain one
    other = FeatureCache(cache_root, model, augment_params(None, views=3, seed=5))
    assert other.folder != cache.folder
    bigger = LogoClassifier.create(list(BRANDS), backbone="inception_v3", weights="none", input_size=80)
    assert FeatureCache(cache_root, bigger, params).folder != cache.folder
    assert (model.pooling, model.mid_level) == ("avg_max", True)  # train()'s defaults
    averaged = LogoClassifier.create(
        list(BRANDS), backbone="inception_v3", weights="none", input_size=75, pooling="avg", mid_level=True
    )
    assert FeatureCache(cache_root, averaged, params).folder != cache.folder


def test_ensemble_members_train_on_their_own_seeds_and_the_head_averages_them():
    from classifier.model import LogoClassifier
    from classifier.train import _fit_head

    model = LogoClassifier.create(
        list(BRANDS), backbone="mobilenet_v1_025", weights="none", input_size=32, hidden=16, ensemble=3
    )
    rng = np.random.default_rng(0)
    # enough examples for the rule to beat the noise of the other features (400 was marginal: ~0.7 held out)
    x = rng.normal(size=(2300, model.feature_dim)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.float32)  # brand i present when feature i is positive
    histories = _fit_head(
        model,
        x[:2000],
        y[:2000],
        x[2000:],
        y[2000:],
        epochs=20,
        learning_rate=1e-2,
        batch_size=250,
        patience=20,
        seed=0,
        progress=False,
    )
    assert len(histories) == 3 and all(len(h["loss"]) == 20 for h in histories)
    members = np.stack([member.predict(x, verbose=0) for member in model.head_members])
    np.testing.assert_allclose(model.head.predict(x, verbose=0), members.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(members[0], members[1], atol=1e-3)  # seeds differ, so do the members
    held_out = model.head.predict(x[2000:], verbose=0)
    assert ((held_out > 0.5) == (y[2000:] > 0)).mean() > 0.8  # it learns (chance is 0.5)


def test_fine_tuning_changes_only_the_top_backbone_layers(tmp_path):
    import keras

    from classifier.dataset import load_dataset
    from classifier.train import train
    from drawn_photos import write_folder_dataset

    dataset = load_dataset(write_folder_dataset(tmp_path / "data", per_brand=3, negatives=3), progress=False)
    start = tmp_path / "start.weights.h5"  # the backbone weights fine-tuning starts from
    keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(start)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuned = train(
            dataset,
            backbone="mobilenet_v2",
            weights=str(start),
            input_size=32,
            epochs=3,
            views=1,
            cache_dir=tmp_path / "cache",
            seed=0,
            progress=False,
            fine_tune=2,
            fine_tune_epochs=2,
        )
    assert not [w for w in caught if "ran out of data" in str(w.message)]  # every epoch gets its batches
    initial = keras.applications.MobileNetV2(include_top=False, weights=str(start), input_shape=(32, 32, 3))

    def convs(base):
        return [
            layer.get_weights()[0]
            for layer in base.layers
            if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
        ]

    before, after = convs(initial), convs(tuned.base)
    assert len(before) == len(after)
    assert not np.allclose(before[-1], after[-1]) and not np.allclose(before[-2], after[-2])
    for old, new in zip(before[:-2], after[:-2]):
        np.testing.assert_array_equal(old, new)
    assert not tuned.base.trainable  # frozen again for prediction and saving
    assert tuned.info["training"]["fine_tune_layers"] == 2


def test_the_from_scratch_trainer_ends_like_train_and_old_bundles_still_load(tmp_path):
    import json

    from classifier.dataset import load_dataset
    from classifier.images import read_rgb
    from classifier.model import LogoClassifier
    from classifier.scratch import train_from_scratch
    from classifier.tiling import Tiling
    from drawn_photos import write_folder_dataset
    from monitor.config import TilingSettings
    from monitor.model import calibration_mismatch

    dataset = load_dataset(write_folder_dataset(tmp_path / "data", per_brand=6, negatives=6), progress=False)
    model = train_from_scratch(
        dataset, backbone="mobilenet_v1_025", input_size=32, epochs=2, views=1, tiling=Tiling(True, 2, 0.25)
    )
    assert model.info["training"]["tiling"] == {"enabled": True, "grid": 2, "overlap": 0.25}
    rates = model.metrics["error_rates"]
    assert rates["method"] == "cross-fit" and rates["photos"] == model.info["training"]["validation_photos"] > 0
    assert sum(r["positives"] for r in rates["brands"].values()) == model.metrics["single_brand_photos"]
    assert (
        model.metrics["calibration"]["method"] in ("identity", "shared_platt", "platt", "isotonic")
        and model.calibration is not None
    )
    bundle = model.save(tmp_path / "bundle")
    loaded = LogoClassifier.load(bundle)
    # the demo's bundles now record their tiling, so loading one for other scoring warns
    assert "more misses" in calibration_mismatch(loaded.info, TilingSettings(enabled=False))
    assert calibration_mismatch(loaded.info, TilingSettings(enabled=True, grid=2, mode="crops")) is None
    photos = [read_rgb(e.path) for e in dataset.examples[:6]]
    np.testing.assert_allclose(loaded.predict(photos), model.predict(photos), atol=1e-6)
    assert not np.allclose(loaded.predict(photos), loaded.predict(photos, raw=True))  # calibrated, not raw
    manifest = json.loads((bundle / "bundle.json").read_text())
    del manifest["metrics"]["calibration"], manifest["metrics"]["error_rates"]  # a bundle from before both
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    old = LogoClassifier.load(bundle)
    assert old.calibration is None
    np.testing.assert_allclose(old.predict(photos), loaded.predict(photos, raw=True), atol=1e-6)
