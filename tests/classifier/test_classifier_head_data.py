"""The head's training data (classifier.head_data): batches gathered one at a time, and column statistics."""

from __future__ import annotations

import numpy as np
import pytest


def test_column_statistics_match_float64_numpy_on_float16_rows_far_from_zero():
    from classifier.head_data import column_statistics

    rng = np.random.default_rng(0)
    rows = (1000 + rng.normal(0, 3, size=(5000, 7)) * np.arange(1, 8)).astype(np.float16)
    exact = rows.astype(np.float64)
    mean, variance = column_statistics(rows, chunk_values=700)  # 100 rows a chunk: 50 chunks summed
    assert mean.dtype == variance.dtype == np.float32
    np.testing.assert_allclose(mean, exact.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(variance, exact.var(axis=0), rtol=1e-4)
    # numpy's own float16 variance, the thing this replaces for float16 storage, is far off here
    with np.errstate(over="ignore"):  # its float16 sums overflow
        naive = rows.var(axis=0).astype(np.float64)
    assert not np.all(np.abs(naive / exact.var(axis=0) - 1) < 1e-2)


def test_column_statistics_refuse_no_rows():
    from classifier.head_data import column_statistics

    with pytest.raises(ValueError, match="no feature rows"):
        column_statistics(np.zeros((0, 3), np.float32))


def test_batches_give_every_row_once_an_epoch_as_float32_in_a_new_order_each_epoch():
    from classifier.head_data import ArrayBatches

    x = np.arange(103 * 2, dtype=np.float16).reshape(103, 2)
    y = np.arange(103, dtype=np.float32)[:, None]
    batches = ArrayBatches(x, y, 10, seed=3)
    assert len(batches) == 11
    orders = []
    for _epoch in range(2):
        seen = [batches[i] for i in range(len(batches))]
        xs, ys = np.concatenate([b[0] for b in seen]), np.concatenate([b[1] for b in seen])
        assert xs.dtype == ys.dtype == np.float32
        np.testing.assert_array_equal(xs[:, 0] / 2, ys[:, 0])  # rows stay paired with their labels
        assert sorted(ys[:, 0]) == list(range(103))
        orders.append(ys[:, 0].copy())
        batches.on_epoch_end()
    assert not np.array_equal(orders[0], orders[1])
    again = ArrayBatches(x, y, 10, seed=3)
    np.testing.assert_array_equal(np.concatenate([again[i][1] for i in range(11)])[:, 0], orders[0])
    plain = ArrayBatches(x, y, 10)  # no seed: in order (validation)
    np.testing.assert_array_equal(plain[0][1][:, 0], np.arange(10))
    alone = ArrayBatches(x, None, 10)  # no labels: x alone (predict)
    np.testing.assert_array_equal(alone[10], x[100:].astype(np.float32))


def test_batches_refuse_features_and_labels_of_different_lengths():
    from classifier.head_data import ArrayBatches

    with pytest.raises(ValueError, match="differ in length: 4 vs 3"):
        ArrayBatches(np.zeros((4, 2)), np.zeros((3, 1)), 2)
