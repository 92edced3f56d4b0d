"""The backbone as prediction runs it: batch normalisation folded into the convolutions before it, computed
in float32 or, where the CPU multiplies bfloat16 natively and the features stay close, in bfloat16."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from classifier.errors import ClassifierError

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "bfloat16")
# `auto` keeps bfloat16 only when the pooled features of a probe batch move by at most this much (median relative
# error against float32). Seen here: InceptionV3 0.2%; MobileNet v1 0.25 with ImageNet weights 10% (fails).
BFLOAT16_TOLERANCE = 0.01


@lru_cache(maxsize=1)
def cpu_has_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); otherwise it is emulated, slowly."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", text) is not None


def check_precision(precision: str) -> str:
    """`precision` if this machine can run it, else a ClassifierError saying what to choose."""
    if precision not in PRECISIONS:
        raise ClassifierError(f"unknown precision {precision!r} (choose one of: {', '.join(PRECISIONS)})")
    if precision == "bfloat16" and not cpu_has_bfloat16():
        raise ClassifierError(
            "precision bfloat16 needs a CPU with AVX512-BF16 or AMX (this one would emulate it, "
            "many times slower); use precision float32 or auto"
        )
    return precision


@dataclass
class InferenceBackbone:
    """The prediction copy of a backbone: `model` maps scaled pixels to float32 feature map(s)."""

    model: Any
    folded: int  # batch normalisations folded into a convolution
    precision: str  # float32 | bfloat16: what it computes in
    bfloat16_error: float | None  # median relative error of bfloat16 pooled features on the probe, when measured


def _foldable(model) -> dict[str, Any]:
    """{convolution name: the BatchNormalization right after it} where the BN is the convolution's only consumer."""
    import keras

    consumers: dict[str, int] = {}
    sources: dict[str, Any] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                source = tensor._keras_history.operation
                consumers[source.name] = consumers.get(source.name, 0) + 1
                sources[layer.name] = source  # only read for batch norms, which have one input
    outputs = {tensor._keras_history.operation.name for tensor in model.outputs}
    out = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or len(layer._inbound_nodes) != 1:
            continue
        conv = sources.get(layer.name)
        if (
            isinstance(conv, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
            and consumers.get(conv.name) == 1
            and conv.name not in outputs
            and len(conv._inbound_nodes) == 1
            and conv.get_config().get("activation") == "linear"
            and layer.axis in (-1, 3)
            and conv.get_config().get("data_format", "channels_last") == "channels_last"
        ):
            out[conv.name] = layer
    return out


def _folded_weights(conv, bn) -> list[np.ndarray]:
    """The kernel and bias of `conv` followed by inference-mode `bn`."""
    import keras

    mean, variance = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    gamma = bn.gamma.numpy() if bn.scale else np.ones_like(mean)
    beta = bn.beta.numpy() if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    kernel = conv.kernel.numpy()
    if isinstance(conv, keras.layers.DepthwiseConv2D):  # output channel = input channel * multiplier + m
        kernel = kernel * scale.reshape(1, 1, kernel.shape[2], kernel.shape[3])
    else:
        kernel = kernel * scale
    bias = conv.bias.numpy() if conv.use_bias else np.zeros_like(mean)
    return [kernel.astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)]


def _passthrough_class():
    import keras

    class FoldedBatchNorm(keras.layers.Layer):
        """Stands where a batch normalisation was folded into the convolution before it."""

        def call(self, inputs, mask=None, training=None):
            return inputs

        def compute_output_shape(self, input_shape):
            return input_shape

    return FoldedBatchNorm


def fold_batch_norm(model, dtype: str = "float32", input_size: int | None = None):
    """A copy of the functional `model` for inference with each BN folded into its convolution, layers in `dtype`
    ('float32' or 'mixed_bfloat16'), taking input_size x input_size pixels when given (a fully convolutional
    backbone at another size: the same layers and weights); the original is untouched. Returns (copy, number folded)."""
    import keras

    try:
        fold = _foldable(model)
    except Exception as exc:  # private graph attributes moved: fold nothing, still correct
        log.debug("cannot trace the backbone's graph for batch-norm folding: %s", exc)
        fold = {}
    folded_bns = {bn.name for bn in fold.values()}
    passthrough = _passthrough_class()

    def rebuild(layer):
        config = layer.get_config()
        config["dtype"] = dtype
        if layer.name in folded_bns:
            return passthrough(name=layer.name, dtype=dtype)
        if layer.name in fold:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    inputs = None
    if input_size is not None and tuple(model.input.shape[1:3]) != (input_size, input_size):
        # Cloned onto a larger input directly, rather than from a second Keras backbone built at that size.
        shape = (None, input_size, input_size, *model.input.shape[3:])
        inputs = keras.Input(batch_shape=shape, dtype=model.input.dtype, name=model.input.name)
    copy = keras.models.clone_model(model, input_tensors=inputs, clone_function=rebuild)
    for layer in model.layers:
        if layer.name in folded_bns or not layer.weights:
            continue
        target = copy.get_layer(layer.name)
        target.set_weights(_folded_weights(layer, fold[layer.name]) if layer.name in fold else layer.get_weights())
    copy.trainable = False
    return copy, len(fold)


def probe_pixels(size: int, count: int = 4) -> np.ndarray:
    """Photo-like test images, scaled to -1..1: smooth gradients, blocks of colour and noise (seeded)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        image = np.stack([xx * rng.uniform(50, 200), yy * rng.uniform(50, 200), (xx + yy) * 60], -1)
        for _ in range(6):
            x, y, w, h = rng.integers(0, size, 4)
            image[y : y + h // 2, x : x + w // 2] = rng.uniform(0, 255, 3)
        images.append(np.clip(image + rng.normal(0, 10, image.shape), 0, 255))
    return (np.stack(images) / 127.5 - 1.0).astype(np.float32)


def _pooled(model, pixels: np.ndarray) -> np.ndarray:
    """Pooled float32 features of `model` on `pixels`, computed in a graph."""
    import tensorflow as tf

    # Not an eager call: eager Keras execution keeps per-op buffers alive in the process for good (InceptionV3
    # on 4 probe photos at 448 px: ~0.9 GB of resident memory not returned); a graph frees them after the run.
    def run(x):
        maps = model(x, training=False)
        return [tf.reduce_mean(tf.cast(m, tf.float32), axis=(1, 2)) for m in tf.nest.flatten(maps)]

    # Its concrete function, called directly: a new tf.function per copy would set off TensorFlow's retracing warning.
    graph = tf.function(run).get_concrete_function(tf.TensorSpec(pixels.shape, tf.float32))
    return np.concatenate([np.asarray(p) for p in graph(tf.constant(pixels, tf.float32))], axis=1)


def inference_backbone(
    maps_model, input_size: int, precision: str, scales_inside: bool = False, tolerance: float = BFLOAT16_TOLERANCE
) -> InferenceBackbone:
    """The prediction copy of `maps_model` in `precision` (auto | float32 | bfloat16), for input_size pixels.

    auto: bfloat16 where the CPU has it natively and the probe's pooled features stay within
    `tolerance` (median relative error) of float32; float32 otherwise."""
    check_precision(precision)
    if precision == "bfloat16":
        return InferenceBackbone(*fold_batch_norm(maps_model, "mixed_bfloat16", input_size), "bfloat16", None)
    fp32, folded = fold_batch_norm(maps_model, "float32", input_size)
    if precision == "float32" or not cpu_has_bfloat16():
        return InferenceBackbone(fp32, folded, "float32", None)
    pixels = probe_pixels(input_size)
    if scales_inside:
        pixels = (pixels + 1.0) * 127.5
    # One copy alive at a time: the float32 one is dropped before the bfloat16 one is built, and rebuilt (the
    # same weights) in the rare case bfloat16 is refused.
    reference = _pooled(fp32, pixels)
    del fp32
    bf16, _ = fold_batch_norm(maps_model, "mixed_bfloat16", input_size)
    trial = _pooled(bf16, pixels)
    norms = np.maximum(np.linalg.norm(reference, axis=1), 1e-12)
    error = float(np.median(np.linalg.norm(trial - reference, axis=1) / norms))
    if error <= tolerance:
        return InferenceBackbone(bf16, folded, "bfloat16", error)
    del bf16
    log.debug(
        "bfloat16 moves this backbone's features by %.1f%% (over %.1f%%): predicting in float32",
        100 * error,
        100 * tolerance,
    )
    return InferenceBackbone(fold_batch_norm(maps_model, "float32", input_size)[0], folded, "float32", error)
