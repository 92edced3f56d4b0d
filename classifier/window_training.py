"""Train on what you score: with feature_windows scoring the head learns from the same pooled windows.

Multiple instance set-up: a photo (or crop, or augmented view) is a bag of windows (whole map + tiles), its
label applies to the max over the windows of the head's scores, which is exactly what predict keeps. The
backbone is frozen, so each view's window features are computed once (classifier.features.FeatureCache).
Hard negatives: every window of a no-logo photo (its bag's max must stay low), the tiles of boxed photos
that no box touches, and for photos without boxes the tiles the head scores lowest for the photo's brands
(mined after a first fit). Those logo-free tiles are packed into bags of their own, and each tile a box lies
mostly inside goes into a bag with logo-free fillers, labelled with its brand (see `pack`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.features import Item, boxes_cover, tile_labels
from classifier.tiling import Tiling

HEAD_INPUT = "feature_windows"  # what bundles record as the head's training input (else "whole")


def bag_model(head, windows: int, dim: int):
    """A Keras model over bags (N, windows, D): `head` on every window, then the max over windows (N, C)."""
    import keras
    from keras import layers

    bags = keras.Input((windows, dim), name="window_features")
    scores = layers.TimeDistributed(head, name="per_window")(bags)
    return keras.Model(bags, layers.GlobalMaxPooling1D(name="max_over_windows")(scores), name=f"bags_{head.name}")


def bag_scores(model, bags: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Raw scores (N, C): the whole head (all members) on each window, max over windows, as predict does."""
    if len(bags) == 0:
        return np.zeros((0, len(model.classes)), np.float32)
    fn = bag_model(model.head, bags.shape[1], bags.shape[2])
    return np.asarray(fn.predict(bags, batch_size=batch_size, verbose=0), np.float32)


def pack(windows: Sequence[np.ndarray], targets: Sequence[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Single labelled windows as bags of `size`, each window about once (not `size` copies of one): logo-free
    ones packed together (label: no brand), each positive with logo-free fillers (its label; without any
    logo-free window it fills its bag alone). Returns (bags (M, size, D), labels (M, C))."""
    free = [w for w, t in zip(windows, targets, strict=True) if not t.any()]
    bags, labels = [], []
    for start in range(0, len(free), size):
        chunk = free[start : start + size]
        chunk += [free[i % len(free)] for i in range(size - len(chunk))]  # the last bag topped up from the start
        bags.append(np.stack(chunk))
        labels.append(np.zeros_like(targets[0]))
    filler = 0
    for window, target in zip(windows, targets, strict=True):
        if not target.any():
            continue
        others = [free[(filler + i) % len(free)] for i in range(size - 1)] if free else [window] * (size - 1)
        filler += size - 1
        bags.append(np.stack([window, *others]))
        labels.append(target)
    return np.stack(bags), np.stack(labels).astype(np.float32)


def window_bags(
    items: Sequence[Item],
    labels: np.ndarray,
    features: np.ndarray,
    tiling: Tiling,
    classes: Sequence[str],
    positives: bool = True,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Training bags from cached window features (N, views, W, D): one bag per view, plus the tiles of boxed
    whole photos (plain view) as single windows (see `pack`): logo-free ones as negatives and, when
    `positives`, ones a box lies mostly inside as that brand. Returns (bags, labels, logo-free tiles); the bags
    keep the features' dtype and start with the views' bags in order, so `features` can be let go after this."""
    count, views, windows, dim = features.shape
    index = {c: i for i, c in enumerate(classes)}
    tiles = tiling.boxes()[1:]
    singles, targets = [], []
    for row, item in enumerate(items):
        if item.crop is not None or not boxes_cover(item.example):
            continue
        for offset, brands in enumerate(tile_labels(item.example, tiles)):
            if brands is None or (brands and not positives):
                continue
            target = np.zeros(len(classes), np.float32)
            for brand in brands:
                target[index[brand]] = 1.0
            singles.append(features[row, 0, 1 + offset])
            targets.append(target)
    bags = [features.reshape(count * views, windows, dim)]
    bag_labels = [np.repeat(labels, views, axis=0)]
    if singles:
        packed, packed_labels = pack(singles, targets, windows)
        bags.append(packed)
        bag_labels.append(packed_labels)
    negatives = sum(not t.any() for t in targets)
    return np.concatenate(bags), np.concatenate(bag_labels).astype(np.float32), negatives


def mine_low_windows(
    model, items: Sequence[Item], labels: np.ndarray, features: np.ndarray, per_photo: int, below: float = 0.5
) -> np.ndarray:
    """Logo-free bags (M, W, D) packed from the tiles of each whole logo photo without boxes that the head
    scores lowest for the photo's brands (`per_photo` of them), kept only when under `below` x the photo's best
    window (a logo filling the photo lights every tile, and gives none). Plain view only."""
    rows = [
        row
        for row, item in enumerate(items)
        if item.crop is None and item.brands and not boxes_cover(item.example) and per_photo > 0
    ]
    windows, dim = features.shape[2], features.shape[3]
    if not rows:
        return np.zeros((0, windows, dim), features.dtype)
    from classifier.head_data import ArrayBatches

    plain = features[rows, 0]  # (R, W, D)
    scores = np.asarray(model.head.predict(ArrayBatches(plain.reshape(-1, dim), None, 512), verbose=0))
    scores = scores.reshape(len(rows), windows, -1)
    out = []
    for position, row in enumerate(rows):
        brands = labels[row] > 0
        own = scores[position][:, brands].max(axis=1)  # (W,): each window's score for the photo's brands
        tiles = np.argsort(own[1:])[:per_photo] + 1
        out.extend(plain[position, tile] for tile in tiles if own[tile] < below * own.max())
    if not out:
        return np.zeros((0, windows, dim), features.dtype)
    return pack(out, [np.zeros(1, np.float32)] * len(out), windows)[0]
