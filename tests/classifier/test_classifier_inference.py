"""The inference copy of the backbone: batch norm folded exactly, bfloat16 only where it stays close."""

from __future__ import annotations

import numpy as np
import pytest

from drawn_photos import BRANDS

needs_bfloat16 = pytest.mark.skipif(
    "not __import__('classifier.inference').inference.cpu_has_bfloat16()",
    reason="this CPU has no native bfloat16 (AVX512-BF16/AMX)",
)


def _with_real_looking_statistics(model, seed: int = 0):
    """Give every batch norm moving statistics, scale and offset far from the 0/1 of fresh weights."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.2, shape).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, shape).astype(np.float32))
            if layer.gamma is not None:
                layer.gamma.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
            if layer.beta is not None:
                layer.beta.assign(rng.normal(0, 0.2, shape).astype(np.float32))


@pytest.mark.parametrize(
    "backbone, size", [("inception_v3", 75), ("mobilenet_v1_025", 64), ("mobilenet_v2", 64), ("efficientnet_b0", 64)]
)
def test_folding_batch_norm_keeps_every_backbone_s_feature_maps(backbone, size):
    from classifier import LogoClassifier
    from classifier.inference import fold_batch_norm, probe_pixels

    model = LogoClassifier.create(list(BRANDS), backbone=backbone, weights="none", input_size=size, mid_level=True)
    _with_real_looking_statistics(model.base)
    pixels = probe_pixels(size, 3) * (127.5 if backbone == "efficientnet_b0" else 1.0)
    before = [np.asarray(m) for m in model._maps(pixels, training=False)]
    folded, count = fold_batch_norm(model._maps)
    after = [np.asarray(m) for m in folded(pixels, training=False)]
    bns = sum(type(layer).__name__ == "BatchNormalization" for layer in model._maps.layers)
    assert count >= 0.9 * bns and count > 10, f"only {count} of {bns} batch norms folded"
    assert sum(type(layer).__name__ == "FoldedBatchNorm" for layer in folded.layers) == count
    for a, b in zip(before, after):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * float(np.abs(a).max()))
    again = [np.asarray(m) for m in model._maps(pixels, training=False)]  # the original is untouched
    for a, b in zip(before, again):
        np.testing.assert_array_equal(a, b)


def test_a_copy_at_a_larger_input_size_computes_what_a_backbone_built_at_that_size_does():
    """feature_windows' copy is cloned from the model's own backbone onto the enlarged input, not built anew."""
    import keras

    from classifier import LogoClassifier
    from classifier.backbones import build_backbone
    from classifier.inference import fold_batch_norm, probe_pixels

    model = LogoClassifier.create(list(BRANDS), backbone="inception_v3", weights="none", input_size=75, mid_level=True)
    _with_real_looking_statistics(model.base, seed=4)
    big = build_backbone("inception_v3", "none", 150)
    big.set_weights(model.base.get_weights())
    tapped = keras.Model(big.input, [big.get_layer("mixed7").output, big.output])
    folded, count = fold_batch_norm(model._maps, input_size=150)
    assert tuple(folded.input.shape[1:]) == (150, 150, 3) and count > 90
    pixels = probe_pixels(150, 2)
    for a, b in zip(tapped(pixels, training=False), folded(pixels, training=False), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-4 * float(np.abs(a).max()))


def _folded_copies() -> list:
    """The live Keras models that are inference copies (they hold folded batch norms)."""
    import gc

    import keras

    gc.collect()
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, keras.Model) and any(type(layer).__name__ == "FoldedBatchNorm" for layer in o.layers)
    ]


@pytest.mark.parametrize("precision", ["auto", "float32"])
def test_only_the_chosen_inference_copies_stay_alive(precision):
    """auto builds a float32 and a bfloat16 copy to compare them, and feature_windows a copy at its own size:
    afterwards only the whole-photo copy and the windows copy may hold memory."""
    from classifier import LogoClassifier
    from classifier.tiling import Tiling
    from classifier.windows import window_function

    before = {id(m) for m in _folded_copies()}
    model = LogoClassifier.create(
        list(BRANDS), backbone="inception_v3", weights="none", input_size=75, mid_level=True, precision=precision
    )
    whole = model.inference_backbone.model
    window_function(model, Tiling(True, 3, 0.25, "feature_windows", 2.0))
    new = [m for m in _folded_copies() if id(m) not in before]
    assert len(new) == 2 and any(m is whole for m in new)
    window = next(m for m in new if m is not whole)
    assert tuple(window.input.shape[1:3]) == (150, 150)
    del window, new
    model.invalidate_compiled()  # forgetting the compiled functions frees both
    del whole
    assert not [m for m in _folded_copies() if id(m) not in before]


def test_a_batch_norm_whose_convolution_feeds_another_layer_too_is_not_folded():
    import keras
    from keras import layers

    from classifier.inference import fold_batch_norm

    pixels = keras.Input((16, 16, 3))
    shared = layers.Conv2D(4, 3, padding="same", use_bias=False, name="shared_conv")(pixels)
    normed = layers.BatchNormalization(name="bn_shared")(shared)
    own = layers.Conv2D(4, 3, padding="same", use_bias=False, name="own_conv")(pixels)
    out = layers.Add()([normed, shared, layers.BatchNormalization(name="bn_own")(own)])
    model = keras.Model(pixels, out)
    _with_real_looking_statistics(model, seed=1)
    folded, count = fold_batch_norm(model)
    assert count == 1 and type(folded.get_layer("bn_own")).__name__ == "FoldedBatchNorm"
    assert type(folded.get_layer("bn_shared")).__name__ == "BatchNormalization"
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-5)


def test_float32_prediction_matches_the_keras_model(photos_75):
    from classifier import LogoClassifier

    model = LogoClassifier.create(
        list(BRANDS),
        backbone="inception_v3",
        weights="none",
        input_size=75,
        pooling="avg_max",
        mid_level=True,
        precision="float32",
    )
    _with_real_looking_statistics(model.base, seed=2)
    scores, features = model.predict(photos_75), model.features(photos_75)
    assert model.compute_precision == "float32" and model.inference_backbone.folded > 90
    pixels = np.stack(photos_75).astype(np.float32)
    np.testing.assert_allclose(features, np.asarray(model.feature_model(pixels, training=False)), rtol=1e-4, atol=1e-5)
    # The scores follow from features equal to 1e-4 (folded batch norm, other batches), so 1e-4 here too.
    np.testing.assert_allclose(scores, np.asarray(model.model(pixels, training=False)), rtol=1e-4, atol=1e-6)


def test_unknown_precision_is_a_clear_error():
    from classifier import LogoClassifier
    from classifier.errors import ClassifierError

    with pytest.raises(ClassifierError, match="unknown precision 'half'.*auto, float32, bfloat16"):
        LogoClassifier.create(
            list(BRANDS), backbone="mobilenet_v1_025", weights="none", input_size=32, precision="half"
        )


def test_bfloat16_where_the_cpu_lacks_it_is_a_clear_error_and_auto_stays_float32():
    from classifier import LogoClassifier
    from classifier.errors import ClassifierError
    from classifier.inference import cpu_has_bfloat16

    if cpu_has_bfloat16():
        pytest.skip("this CPU has native bfloat16: the refusal cannot happen here")
    with pytest.raises(ClassifierError, match="AVX512-BF16 or AMX"):
        LogoClassifier.create(
            list(BRANDS), backbone="mobilenet_v1_025", weights="none", input_size=32, precision="bfloat16"
        )
    model = LogoClassifier.create(list(BRANDS), backbone="inception_v3", weights="none", input_size=75)
    assert model.compute_precision == "float32"


@needs_bfloat16
def test_auto_keeps_bfloat16_only_within_the_tolerance(photos_75):
    from classifier import LogoClassifier
    from classifier.inference import inference_backbone

    model = LogoClassifier.create(
        list(BRANDS), backbone="inception_v3", weights="none", input_size=75, precision="auto"
    )
    _with_real_looking_statistics(model.base, seed=3)
    chosen = model.inference_backbone
    assert chosen.precision == "bfloat16" and 0 < chosen.bfloat16_error < 0.01
    strict = inference_backbone(model._maps, 75, "auto", tolerance=0.0)
    assert strict.precision == "float32" and strict.bfloat16_error == pytest.approx(chosen.bfloat16_error)
    fp32 = LogoClassifier.create(
        list(BRANDS), backbone="inception_v3", weights="none", input_size=75, precision="float32"
    )
    fp32.model.set_weights(model.model.get_weights())
    close = np.abs(model.features(photos_75) - fp32.features(photos_75)).max()
    assert 0 < close < 0.05 * np.abs(fp32.features(photos_75)).max()
    model.set_precision("float32")
    np.testing.assert_array_equal(model.features(photos_75), fp32.features(photos_75))


def test_auto_refuses_bfloat16_for_mobilenet_v1_with_imagenet_weights(shared_dir):
    """Real weights: bfloat16 moves MobileNet v1 0.25's features by ~10%, so auto predicts in float32."""
    from classifier import LogoClassifier
    from classifier.inference import cpu_has_bfloat16

    weights = shared_dir / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
    if not weights.is_file():
        pytest.skip(f"real-data check: {weights} is absent")
    model = LogoClassifier.create(list(BRANDS), backbone="mobilenet_v1_025", weights=str(weights), input_size=224)
    chosen = model.inference_backbone
    assert chosen.precision == "float32"
    if cpu_has_bfloat16():
        assert chosen.bfloat16_error > 0.02


def test_the_feature_cache_key_names_the_precision(tmp_path):
    from classifier import LogoClassifier
    from classifier.augment import augment_params
    from classifier.features import FeatureCache

    model = LogoClassifier.create(
        list(BRANDS), backbone="mobilenet_v1_025", weights="none", input_size=32, precision="float32"
    )
    cache = FeatureCache(tmp_path, model, augment_params(None))
    assert '"precision": "float32"' in (cache.folder / "identity.json").read_text()


@pytest.fixture(scope="module")
def photos_75():
    from drawn_photos import draw_photo

    return [
        np.asarray(draw_photo(brands, seed, size=(75, 75)))
        for seed, brands in enumerate([("Acme",), ("Bolt", "Corona"), (), ("Corona",)])
    ]
