"""Train a small backbone and its head together from random weights (no download, no weights file).

`classifier.train.train` trains a head on a frozen backbone's cached features: the right recipe for
ImageNet weights, but a frozen backbone with random weights gives features that carry little logo
information (held-out macro AP near chance on the demo's drawn photos). Offline, with `weights: none`,
this trains the whole small network on augmented views instead, then calibrates thresholds and
measures it like any other model; the result saves as a normal bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _views(
    dataset: Any, classes: list[str], size: int, views: int, seed: int, on_photo: Callable[[], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The plain photo plus `views - 1` augmented views per example, as (N, S, S, 3) uint8 and labels."""
    from PIL import Image

    from classifier.augment import augment_params, augmented_view, build_augmenter, shrink
    from classifier.images import read_rgb

    params = augment_params(None, views=max(views, 1), seed=seed)
    augmenter = build_augmenter(params, size)
    labels = dataset.labels(classes)
    images, targets = [], []
    for example, label in zip(dataset.examples, labels):
        pixels = read_rgb(example.path)
        images.append(np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BOX)))
        targets.append(label)
        small = shrink(pixels, size)
        for view in range(1, views):
            images.append(augmented_view(augmenter, params, small, example.sha256, view))
            targets.append(label)
        if on_photo:
            on_photo()
    return np.stack(images), np.stack(targets).astype(np.float32)


def train_from_scratch(
    dataset: Any,
    *,
    backbone: str,
    input_size: int,
    epochs: int,
    views: int = 4,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    validation: float = 0.2,
    seed: int = 0,
    valid_set: Any = None,
    on_photo: Callable[[], None] | None = None,
    on_epoch: Callable[[int, dict], None] | None = None,
    tiling: Any = None,
    shift: float = 0.08,
) -> Any:
    """A LogoClassifier whose backbone and head were trained together on `dataset` (weights none); calibration,
    thresholds and error rates come from `valid_set` (default: a seeded split of `dataset`), scored with
    `tiling` (classifier.tail, as for every trainer). Each epoch mirrors and shifts the photos at random (up to
    `shift` of the side; 0: as they are): on the demo's world of seed 0 held-out AP of Trelo Tea 0.62 -> 0.95."""
    import keras

    from classifier.images import read_rgb
    from classifier.model import LogoClassifier
    from classifier.tail import finish_training
    from classifier.tiling import Tiling

    keras.utils.set_random_seed(seed)
    if valid_set is None:
        train_set, valid_set = dataset.split(validation, seed)
    else:
        train_set = dataset
    classes = list(dataset.classes)
    model = LogoClassifier.create(classes, backbone=backbone, weights="none", input_size=input_size)
    x_train, y_train = _views(train_set, classes, input_size, views, seed, on_photo)
    x_val, y_val = _views(valid_set, classes, input_size, 1, seed, on_photo)

    # The inference graph calls the backbone with training=False; train through the same layers with
    # training=True so batch normalisation learns its statistics, which the saved model then uses.
    base = model.base
    base.trainable = True
    for layer in base.layers:  # few steps per epoch: let the moving statistics follow the batches closely
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    pixels = keras.Input((input_size, input_size, 3))
    x = pixels
    if shift:  # a fresh mirror and shift of every photo each epoch: the same photos never look the same twice
        x = keras.layers.RandomFlip("horizontal", seed=seed)(x)
        x = keras.layers.RandomTranslation(shift, shift, fill_mode="reflect", seed=seed)(x)
    x = model.model.get_layer("scale_pixels")(x)
    features = model.pooled_features(x, training=True)
    trainer = keras.Model(pixels, model.head(features, training=True))
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.BinaryCrossentropy())
    callbacks: list[Any] = [keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=3)]
    if on_epoch:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: on_epoch(epoch, logs)))
    history = trainer.fit(
        x_train.astype(np.float32),
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    for start in range(0, len(x_train), 256):  # settle the moving statistics on the final weights
        base(x_train[start : start + 256].astype(np.float32) / 127.5 - 1.0, training=True)
    base.trainable = False
    model.invalidate_compiled()

    training = {
        "recipe": "whole network trained from random weights (classifier.scratch)",
        "data_fingerprint": dataset.fingerprint(),
        "photos": len(dataset),
        "train_photos": len(train_set),
        "validation_photos": len(valid_set),
        "views": views,
        "random_mirror_and_shift": shift,
        "epochs_run": len(history.history.get("loss", [])),
        "seed": seed,
    }
    tiling = Tiling.of(tiling)
    if tiling.on:  # thresholds must be calibrated on the scores the daemon will compute
        scores = model.scores((read_rgb(e.path) for e in valid_set.examples), tiling=tiling, raw=True)
    else:
        scores = model.predict(list(x_val), batch_size=64, raw=True) if len(x_val) else np.zeros((0, len(classes)))
    finish_training(model, labels=y_val, scores=scores, training=training, tiling=tiling, seed=seed)
    return model
