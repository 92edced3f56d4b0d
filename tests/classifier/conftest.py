"""Drawn photo sets and one small trained model shared by the classifier tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from drawn_photos import write_folder_dataset


@pytest.fixture(scope="session")
def drawn_sets(tmp_path_factory) -> tuple[Path, Path]:
    """(train folder, held-out folder) of drawn photos: 3 brands + none/."""
    root = tmp_path_factory.mktemp("drawn")
    return (
        write_folder_dataset(root / "train", per_brand=20, negatives=20, seed=0),
        write_folder_dataset(root / "heldout", per_brand=10, negatives=10, seed=1),
    )


@pytest.fixture(scope="session")
def trained(drawn_sets, tmp_path_factory):
    """A tiny InceptionV3 (no weights, 75 px) trained on the drawn set, and its feature cache folder."""
    from classifier.dataset import load_dataset
    from classifier.train import train

    cache = tmp_path_factory.mktemp("features")
    dataset = load_dataset(drawn_sets[0], progress=False)
    model = train(
        dataset,
        backbone="inception_v3",
        weights="none",
        input_size=75,
        epochs=60,
        views=3,
        cache_dir=cache,
        seed=0,
        progress=False,
    )
    return model, cache, dataset
