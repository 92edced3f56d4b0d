"""What the head trains on: batches gathered from the feature arrays one at a time, and their statistics.

Handing Keras the arrays themselves copies them whole into tf.data (twice, measured: 1 GB of features took
2 GB more), once per ensemble member; window bags are ten times the whole-photo features, so that copy set the
training's peak memory. A PyDataset hands over one shuffled batch at a time instead, as float32 whatever the
arrays' storage (window features are kept as float16; see classifier.features)."""

from __future__ import annotations

import math

import keras
import numpy as np


class ArrayBatches(keras.utils.PyDataset):
    """(x, y) batches of `batch_size` rows of two aligned arrays (x alone without `y`, for predict), reshuffled
    each epoch when `seed` is given."""

    def __init__(self, x: np.ndarray, y: np.ndarray | None, batch_size: int, seed: int | None = None):
        super().__init__()
        if y is not None and len(x) != len(y):
            raise ValueError(f"features and labels differ in length: {len(x)} vs {len(y)}")
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.order = np.arange(len(x))
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        rows = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])  # sorted: faster reads
        x = np.asarray(self.x[rows], np.float32)
        return x if self.y is None else (x, np.asarray(self.y[rows], np.float32))

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.rng.shuffle(self.order)


def column_statistics(rows: np.ndarray, chunk_values: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """float32 mean and variance of each column of (N, D) `rows`, of any float storage: summed in float64
    chunk by chunk, about the first row, so no temporary as large as `rows` (window features run to GBs)."""
    if len(rows) == 0:
        raise ValueError("no feature rows to standardise with")
    shift = rows[0].astype(np.float64)
    total, squares = np.zeros_like(shift), np.zeros_like(shift)
    step = max(1, chunk_values // max(rows.shape[1], 1))
    for start in range(0, len(rows), step):
        centred = rows[start : start + step].astype(np.float64) - shift
        total += centred.sum(axis=0)
        squares += np.square(centred).sum(axis=0)
    mean = total / len(rows)
    variance = np.maximum(squares / len(rows) - np.square(mean), 0.0)
    return (mean + shift).astype(np.float32), variance.astype(np.float32)
