"""Real-data checks on ../shared (FlickrLogos-27, scenes, MobileNet weights); skipped where absent."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_flickrlogos_reads_as_27_brands_with_one_two_brand_photo(shared_dir):
    from classifier.dataset import load_dataset

    data = shared_dir / "data" / "flickrlogos27-train"
    dataset = load_dataset(
        data, negatives=[shared_dir / "data" / "scenes-nologo"], boxes_csv=data / "boxes.csv", progress=False
    )
    assert len(dataset.classes) == 27
    multi = [e for e in dataset.examples if len(e.brands) > 1]
    assert len(multi) == 1 and {p.parent.name for p in multi[0].paths} == set(multi[0].brands)
    assert sum(1 for e in dataset.examples if not e.brands) == 600
    assert not dataset.unreadable
    with_boxes = sum(1 for e in dataset.examples if e.boxes)
    assert with_boxes > 0.9 * sum(1 for e in dataset.examples if e.brands)


def test_shared_mobilenet_weights_load_and_give_informative_features(shared_dir):
    from classifier import LogoClassifier
    from classifier.images import read_rgb

    weights = shared_dir / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
    model = LogoClassifier.create(["a", "b"], backbone="mobilenet_v1_025", weights=str(weights), input_size=224)
    assert model.weights_id.startswith("file:dbdb03ee2a22fd89")
    photos = sorted((shared_dir / "data" / "flickrlogos27-train" / "Adidas").glob("*.jpg"))[:4]
    features = model.features([read_rgb(p) for p in photos])
    assert features.shape == (4, 256) and features.std() > 0.1
    assert np.abs(features[0] - features[1]).max() > 0.1
