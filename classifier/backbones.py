"""Backbones by name: how to build each one, its default input size and its pixel scaling."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from classifier.errors import ClassifierError, WeightsUnavailable


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone."""

    name: str
    default_size: int
    scales_inside: bool  # True when the Keras model rescales 0..255 pixels itself (EfficientNet)
    mid_layer: str  # an intermediate block (stride 16) whose mid-level patterns can also be pooled
    min_size: int = 32


BACKBONES: dict[str, BackboneSpec] = {
    "inception_v3": BackboneSpec("inception_v3", 299, False, "mixed7", min_size=75),
    "mobilenet_v2": BackboneSpec("mobilenet_v2", 224, False, "block_13_expand_relu"),
    "efficientnet_b0": BackboneSpec("efficientnet_b0", 224, True, "block5c_add"),
    "mobilenet_v1_025": BackboneSpec("mobilenet_v1_025", 224, False, "conv_pw_11_relu"),
}


def backbone_spec(name: str) -> BackboneSpec:
    """The spec for `name`, or a ClassifierError listing the known names."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ClassifierError(f"unknown backbone {name!r} (choose one of: {', '.join(BACKBONES)})") from None


def weights_identity(weights: str | Path | None) -> str:
    """A stable name for the weights: 'imagenet', 'none', or 'file:<sha256>' of a local file."""
    if weights is None or str(weights).lower() == "none":
        return "none"
    if str(weights) == "imagenet":
        return "imagenet"
    path = Path(weights)
    if not path.is_file():
        raise WeightsUnavailable(f"weights file {path} does not exist (give --weights imagenet|none|PATH)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"file:{digest}"


def _constructor(name: str):
    import keras

    apps = keras.applications
    if name == "inception_v3":
        return apps.InceptionV3, {}
    if name == "mobilenet_v2":
        return apps.MobileNetV2, {}
    if name == "efficientnet_b0":
        return apps.EfficientNetB0, {}
    if name == "mobilenet_v1_025":
        return apps.MobileNet, {"alpha": 0.25}
    raise AssertionError(name)


def build_backbone(name: str, weights: str | Path | None, input_size: int):
    """The headless Keras backbone, frozen; weights 'imagenet', 'none' or a local file path."""
    spec = backbone_spec(name)
    if input_size < spec.min_size:
        raise ClassifierError(f"input size {input_size} is too small for {name} (at least {spec.min_size} px)")
    build, extra = _constructor(spec.name)
    keras_weights: str | None
    if weights is None or str(weights).lower() == "none":
        keras_weights = None
    elif str(weights) == "imagenet":
        keras_weights = "imagenet"
    else:
        path = Path(weights)
        if not path.is_file():
            raise WeightsUnavailable(f"weights file {path} does not exist (give --weights imagenet|none|PATH)")
        keras_weights = str(path)
    try:
        model = build(include_top=False, weights=keras_weights, input_shape=(input_size, input_size, 3), **extra)
    except (OSError, ValueError, Exception) as exc:  # download failures surface as many types
        if keras_weights == "imagenet":
            raise WeightsUnavailable(
                f"cannot download the ImageNet weights for {name} ({type(exc).__name__}: {exc}); "
                f"offline, pass a local weights file with --weights PATH (Keras 'no top' .h5 file), "
                f"or --weights none to train from scratch"
            ) from None
        if keras_weights is not None:
            raise WeightsUnavailable(
                f"weights file {keras_weights} does not fit backbone {name} at {input_size} px: {exc}"
            ) from None
        raise
    model.trainable = False
    return model
