"""Training: cached backbone features of augmented views, a head with early stopping, thresholds."""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from classifier.augment import augment_params
from classifier.dataset import Dataset
from classifier.errors import ClassifierError, DatasetError
from classifier.features import FeatureCache, Item, background_crops, training_items
from classifier.tiling import Tiling
from classifier.window_training import HEAD_INPUT

WINDOW_VIEWS = 2  # views per photo when training on feature windows and no views are asked for (bench/accuracy.py)
log = logging.getLogger(__name__)


def _progress_callback(total_epochs: int, label: str, enabled: bool):
    import keras
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    class RichEpochs(keras.callbacks.Callback):
        """One rich progress bar over epochs, showing the losses."""

        def on_train_begin(self, logs=None):
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[losses]}"),
                TimeElapsedColumn(),
                disable=not enabled,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=total_epochs, losses="")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            text = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if "loss" in k)
            self.bar.update(self.task, advance=1, losses=text)

        def on_train_end(self, logs=None):
            self.bar.stop()

    return RichEpochs()


def _fit_head(
    model,
    x_train,
    y_train,
    x_val,
    y_val,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    patience: int,
    seed: int,
    progress: bool,
):
    """Train each head member on its own seed (early stopping on validation); their histories. Features (N, D)
    train the head on each row; bags (N, windows, D) train it on the max over each bag's windows."""
    import keras

    from classifier.head_data import ArrayBatches

    model.set_feature_statistics(x_train.reshape(-1, x_train.shape[-1]))
    members = model.head_members
    if x_train.ndim == 3:
        from classifier.window_training import bag_model

        members = [bag_model(member, x_train.shape[1], x_train.shape[2]) for member in members]
    validation = ArrayBatches(x_val, y_val, 256) if len(x_val) else None
    histories = []
    for index, member in enumerate(members):
        keras.utils.set_random_seed(seed + index)
        member.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.BinaryCrossentropy())
        label = "Training the head" + (f" ({index + 1}/{len(members)})" if len(members) > 1 else "")
        callbacks = [_progress_callback(epochs, label, progress)]
        if validation is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
            )
        batches = ArrayBatches(x_train, y_train, batch_size, seed=seed + index)  # no whole copy into tf.data
        history = member.fit(batches, validation_data=validation, epochs=epochs, verbose=0, callbacks=callbacks)
        histories.append({k: [float(v) for v in values] for k, values in history.history.items()})
    return histories


def _fine_tune(
    model,
    items: list[Item],
    labels: np.ndarray,
    valid: Dataset,
    layers: int,
    epochs: int,
    params,
    batch_size: int,
    seed: int,
    progress: bool,
    learning_rate: float = 1e-5,
) -> None:
    """Unfreeze the top `layers` backbone layers that have weights (not batch norm); train on augmented views."""
    import keras
    import tensorflow as tf

    from classifier.augment import augmented_view, build_augmenter, shrink
    from classifier.images import read_rgb

    base = model.base
    base.trainable = True
    weighted = [
        layer for layer in base.layers if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]
    unfrozen = {id(layer) for layer in weighted[-layers:]}
    for layer in base.layers:  # batch norm stays frozen, as the keras-io transfer-learning guide advises
        layer.trainable = id(layer) in unfrozen
    augmenter = build_augmenter(params, model.input_size)
    rng = np.random.default_rng(seed)
    size = model.input_size

    def train_views():
        for epoch in itertools.count():  # endless: fit() takes steps_per_epoch batches per epoch
            for index in rng.permutation(len(items)):
                item = items[index]
                view = augmented_view(augmenter, params, shrink(item.pixels(), size), item.key, 1000 + epoch)
                yield view.astype(np.float32), labels[index]

    signature = (tf.TensorSpec([size, size, 3], tf.float32), tf.TensorSpec([labels.shape[1]], tf.float32))
    data = tf.data.Dataset.from_generator(train_views, output_signature=signature).batch(batch_size).prefetch(2)
    steps = int(np.ceil(len(items) / batch_size))
    resize = model._resize_graph()
    val_images = tf.data.Dataset.from_generator(
        lambda: (read_rgb(e.path) for e in valid.examples), output_signature=tf.TensorSpec([None, None, 3], tf.uint8)
    )
    val_labels = tf.data.Dataset.from_tensor_slices(valid.labels(model.classes))
    # A generator's length is unknown to Keras, which then warns "input ran out of data" after each validation pass.
    val_images = val_images.apply(tf.data.experimental.assert_cardinality(len(valid)))
    val = tf.data.Dataset.zip(val_images.map(resize), val_labels).batch(batch_size)
    model.model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.BinaryCrossentropy())
    callbacks = [_progress_callback(epochs, f"Fine-tuning the top {layers} layers", progress)]
    if len(valid):
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True))
    model.model.fit(
        data,
        epochs=epochs,
        steps_per_epoch=steps,
        validation_data=val if len(valid) else None,
        verbose=0,
        callbacks=callbacks,
        shuffle=False,
    )
    base.trainable = False
    model.invalidate_compiled()


def train(
    dataset: Dataset,
    *,
    backbone: str = "inception_v3",
    weights: Any = "imagenet",
    input_size: int | None = None,
    epochs: int = 30,
    augmentation: Any = None,
    views: int | None = None,
    validation: float = 0.2,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    fine_tune: int = 0,
    fine_tune_epochs: int = 5,
    fine_tune_learning_rate: float = 1e-5,
    target_precision: float | None = None,
    tiling: Any = None,
    context_crops: int = 2,
    hard_negatives: int = 1,
    dropout: float = 0.3,
    hidden: int = 256,
    pooling: str = "avg_max",
    mid_level: bool = True,
    ensemble: int = 5,
    tile_crops: bool = False,
    calibration_crops: int = 2,
    threshold_shrink: float = 0.0,
    window_positives: bool = True,
    mined_windows: int = 2,
    learning_rate: float = 1e-3,
    batch_size: int = 32,
    patience: int = 8,
    valid_set: Dataset | None = None,
    precision: str = "auto",
    progress: bool = True,
):
    """Train a LogoClassifier on `dataset` (split seeded unless `valid_set` is given) and return it,
    with thresholds calibrated and metrics measured on the validation photos (tiled when `tiling`
    is enabled; `tile_crops` then also trains on those tiles of the boxed photos). `calibration_crops`
    logo-free crops per boxed validation photo join the calibration as no-logo photos, so thresholds
    see ordinary backgrounds and not only the negatives folders; `threshold_shrink` pulls each brand's
    threshold toward the pooled one (see classifier.thresholds.calibrate).

    With a feature_windows `tiling` the head trains on what that scoring sees (classifier.window_training):
    bags of window features, the label on the max over windows, single-window hard negatives from the boxes
    (and single-window positives when `window_positives`), then `mined_windows` lowest-scored tiles of each
    unboxed logo photo as negatives for a second fit, from at most WINDOW_VIEWS views per photo unless `views` says."""
    from classifier.model import LogoClassifier
    from classifier.tail import finish_training

    tiling = Tiling.of(tiling)
    if not dataset.classes:
        raise DatasetError("the data set has no brand photos (need at least one <Brand>/ folder with photos)")
    params = augment_params(augmentation, views=views)
    if tiling.windows and views is None:  # each view is a bag of 10 windows' features, all held in memory
        params = replace(params, views=min(params.views, WINDOW_VIEWS))
    if valid_set is None:
        train_set, valid_set = dataset.split(validation, seed)
    else:
        train_set = dataset
    classes = list(dataset.classes)
    model = LogoClassifier.create(
        classes,
        backbone=backbone,
        weights=weights,
        input_size=input_size,
        dropout=dropout,
        hidden=hidden,
        pooling=pooling,
        mid_level=mid_level,
        ensemble=ensemble,
        precision=precision,
    )
    on_windows = tiling.windows  # train on what you score
    if on_windows and fine_tune:
        raise ClassifierError(
            "fine-tuning trains the backbone on whole photos, but with classifier.tiling.mode feature_windows "
            "(the default) the head trains on feature-map windows: train with --no-tiling (or classifier.tiling "
            "mode crops) to fine-tune, or without --fine-tune"
        )
    cache = FeatureCache(
        Path(cache_dir or Path.home() / ".cache" / "brand-monitor" / "features"), model, params, tiling
    )
    tiles = tiling.boxes()[1:] if tile_crops and not on_windows else []
    items = training_items(train_set, context_crops, hard_negatives, seed=seed, tiles=tiles)
    item_labels = _labels(items, classes)
    train_features = cache.features(items, params.views, batch_size, progress)  # (N, K, [windows,] D)
    single_negatives = mined = 0
    if on_windows:
        from classifier.window_training import window_bags

        x_train, y_train, single_negatives = window_bags(
            items, item_labels, train_features, tiling, classes, window_positives
        )
        # x_train begins with these same bags (one per item and view): keep one copy, viewed in their shape
        count, views_each = train_features.shape[:2]
        train_features = x_train[: count * views_each].reshape(train_features.shape)
    else:
        x_train = train_features.reshape(-1, train_features.shape[-1])
        y_train = np.repeat(item_labels, params.views, axis=0)
    valid_items = [Item(e, e.brands) for e in valid_set.examples]
    x_val = (
        cache.features(valid_items, 1, batch_size, progress)[:, 0] if valid_items else np.zeros((0, *x_train.shape[1:]))
    )
    y_val = valid_set.labels(classes)

    def fit(x, y):
        return _fit_head(model, x, y, x_val, y_val, epochs, learning_rate, batch_size, patience, seed, progress)

    histories = fit(x_train, y_train)
    if on_windows and mined_windows:
        from classifier.window_training import mine_low_windows

        low = mine_low_windows(model, items, item_labels, train_features, mined_windows)
        if len(low):  # a second fit that also sees the logo-free tiles the first one found
            mined = len(low)
            histories += fit(np.concatenate([x_train, low]), np.concatenate([y_train, np.zeros((mined, len(classes)))]))
    if fine_tune:
        _fine_tune(
            model,
            items,
            item_labels,
            valid_set,
            fine_tune,
            fine_tune_epochs,
            params,
            batch_size,
            seed,
            progress,
            fine_tune_learning_rate,
        )
    training = {
        "data_fingerprint": dataset.fingerprint(),
        "photos": len(dataset),
        "train_photos": len(train_set),
        "validation_photos": len(valid_set),
        "items": len(items),
        "views": params.views,
        "augmentation": asdict(params),
        "epochs_run": max(len(h.get("loss", [])) for h in histories),
        "fine_tune_layers": fine_tune,
        "fine_tune_learning_rate": fine_tune_learning_rate if fine_tune else None,
        "ensemble": model.ensemble,
        "feature_precision": model.compute_precision,
        "target_precision": target_precision,
        "seed": seed,
        "feature_cache": cache.key,
        "tile_crops": bool(tiles),
        "features": model.feature_layout,
        "calibration_crops": calibration_crops,
        "threshold_shrink": threshold_shrink,
        "head_trained_on": HEAD_INPUT if on_windows else "whole",
    }
    if on_windows:
        training.update({"window_bags": len(x_train), "logo_free_tiles": single_negatives, "mined_window_bags": mined})
    scores = extra = groups = None
    if len(valid_set):
        if on_windows:  # the cached windows of the plain photos: what predict_windows scores, without a pass
            from classifier.window_training import bag_scores

            scores = bag_scores(model, x_val)
        elif tiling.on or fine_tune:
            scores = _scores_of(model, valid_set, tiling, batch_size)
        else:
            scores = model.head.predict(x_val, batch_size=256, verbose=0)
        backgrounds = background_crops(valid_set, calibration_crops, seed) if calibration_crops else []
        if backgrounds:
            extra = model.scores(
                (item.pixels() for item in backgrounds), tiling=tiling, batch_size=batch_size, raw=True
            )
            where = {e.sha256: i for i, e in enumerate(valid_set.examples)}
            groups = np.array([where[item.example.sha256] for item in backgrounds])
    model = finish_training(
        model,
        labels=y_val,
        scores=scores if scores is not None else np.zeros((0, len(classes))),
        training=training,
        tiling=tiling,
        extra_scores=extra,
        extra_groups=groups,
        target_precision=target_precision,
        shrink=threshold_shrink,
        seed=seed,
    )
    if on_windows:  # recorded with the tiling, so a daemon scoring otherwise is warned (Tiling.mismatch)
        record = model.info["training"]
        record["tiling"] = {**(record.get("tiling") or {}), "head_trained_on": HEAD_INPUT}
    return model


def _scores_of(model, dataset: Dataset, tiling: Any, batch_size: int) -> np.ndarray:
    from classifier.images import read_rgb

    return model.scores((read_rgb(e.path) for e in dataset.examples), tiling=tiling, batch_size=batch_size, raw=True)


def _labels(items: list[Item], classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(items), len(classes)), np.float32)
    for row, item in enumerate(items):
        for brand in item.brands:
            out[row, index[brand]] = 1.0
    return out
