"""Reading labelled sets: folders, negatives, CSV labels, duplicates, broken files, splits, boxes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drawn_photos import BRANDS, draw_photo, write_folder_dataset


def test_same_photo_in_two_brand_folders_is_one_multi_label_example(tmp_path):
    from classifier.dataset import load_dataset

    write_folder_dataset(tmp_path, per_brand=3, negatives=2)
    shutil.copy(tmp_path / "Acme" / "Acme-0.jpg", tmp_path / "Bolt" / "both.jpg")
    dataset = load_dataset(tmp_path, progress=False)
    assert len(dataset) == 3 * 3 + 2
    [both] = [e for e in dataset.examples if len(e.brands) > 1]
    assert both.brands == {"Acme", "Bolt"}
    assert dataset.duplicates == [[tmp_path / "Acme" / "Acme-0.jpg", tmp_path / "Bolt" / "both.jpg"]]
    labels = dataset.labels()
    assert dataset.classes == list(BRANDS)
    assert labels.sum(axis=1).max() == 2 and (labels.sum(axis=1) == 0).sum() == 2


def test_broken_files_are_listed_with_the_reason_and_skipped(tmp_path):
    from classifier.dataset import dataset_stats, load_dataset

    write_folder_dataset(tmp_path, per_brand=2, negatives=1)
    good = (tmp_path / "Acme" / "Acme-0.jpg").read_bytes()
    (tmp_path / "Acme" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (tmp_path / "Bolt" / "text.jpg").write_text("this is not a photo")
    (tmp_path / "Corona" / "empty.png").write_bytes(b"")
    (tmp_path / "Corona" / "notes.txt").write_text("ignored: not an image name")
    (tmp_path / "Corona" / "vector.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 96 80\nshowpage\n")
    dataset = load_dataset(tmp_path, progress=False)
    reasons = {p.name: r for p, r in dataset.unreadable}
    assert set(reasons) == {"truncated.jpg", "text.jpg", "empty.png", "vector.jpg"}
    assert "EPS is not an allowed photo format" in reasons["vector.jpg"]  # the one decoder's allowlist
    assert "broken image" in reasons["truncated.jpg"]
    assert "not an image" in reasons["text.jpg"]
    assert reasons["empty.png"] == "empty file"
    assert len(dataset) == 7
    stats = dataset_stats(dataset)
    assert stats["per_class"] == {"Acme": 2, "Bolt": 2, "Corona": 2} and stats["no_logo"] == 1
    assert {u["path"] for u in stats["unreadable"]} == {str(p) for p, _ in dataset.unreadable}
    assert stats["sizes"]["width"] == {"min": 96, "median": 96.0, "max": 96}


def test_negative_folders_are_searched_recursively(tmp_path):
    from classifier.dataset import load_dataset

    write_folder_dataset(tmp_path / "data", per_brand=1, negatives=1)
    deep = tmp_path / "scenes" / "forest" / "a"
    deep.mkdir(parents=True)
    for i in range(3):
        draw_photo((), 500 + i).save(deep / f"{i}.png")
    dataset = load_dataset(tmp_path / "data", negatives=[tmp_path / "scenes"], progress=False)
    assert sum(1 for e in dataset.examples if not e.brands) == 4


def test_labels_csv_gives_multi_label_examples_and_names_bad_lines(tmp_path):
    from classifier.dataset import load_dataset
    from classifier.errors import DatasetError

    (tmp_path / "photos").mkdir()
    for name, brands, seed in (("a.jpg", ("Acme",), 1), ("ab.jpg", ("Acme", "Bolt"), 2), ("n.jpg", (), 3)):
        draw_photo(brands, seed).save(tmp_path / "photos" / name)
    csv = tmp_path / "labels.csv"
    csv.write_text("path,brands\nphotos/a.jpg,Acme\nphotos/ab.jpg,Acme|Bolt\nphotos/n.jpg,\nphotos/gone.jpg,Bolt\n")
    dataset = load_dataset(labels_csv=csv, progress=False)
    assert {e.path.name: set(e.brands) for e in dataset.examples} == {
        "a.jpg": {"Acme"},
        "ab.jpg": {"Acme", "Bolt"},
        "n.jpg": set(),
    }
    assert [p.name for p, _ in dataset.unreadable] == ["gone.jpg"]
    csv.write_text("path,brands\nphotos/a.jpg,Acme,extra\n")
    with pytest.raises(DatasetError, match="line 2"):
        load_dataset(labels_csv=csv, progress=False)


def test_split_is_seeded_stratified_and_disjoint(tmp_path):
    from classifier.dataset import load_dataset

    dataset = load_dataset(write_folder_dataset(tmp_path, per_brand=10, negatives=10), progress=False)
    train, valid = dataset.split(0.2, seed=7)
    again, valid_again = dataset.split(0.2, seed=7)
    other = dataset.split(0.2, seed=8)[1]
    key = lambda d: sorted(e.sha256 for e in d.examples)  # noqa: E731
    assert key(valid) == key(valid_again) and key(train) == key(again)
    assert key(valid) != key(other)
    assert not set(key(train)) & set(key(valid)) and len(train) + len(valid) == len(dataset)
    per_group = {b: sum(1 for e in valid.examples if e.brands == {b}) for b in BRANDS}
    assert per_group == {b: 2 for b in BRANDS}
    assert sum(1 for e in valid.examples if not e.brands) == 2


def test_boxes_give_context_crops_and_logo_free_negatives(tmp_path):
    from classifier.dataset import load_dataset
    from classifier.features import background_crops, training_items

    (tmp_path / "Acme").mkdir()
    draw_photo((), 1, size=(400, 300)).save(tmp_path / "Acme" / "p.png")
    (tmp_path / "boxes.csv").write_text(
        "image,brand,x1,y1,x2,y2\np.png,Acme,300,200,340,240\np.png,Acme,301,201,340,240\n"
        "missing.png,Acme,1,1,5,5\np.png,Acme,390,290,800,900\n"
    )
    dataset = load_dataset(tmp_path, boxes_csv=tmp_path / "boxes.csv", progress=False)
    [example] = dataset.examples
    assert len(example.boxes) == 1  # the repeated box is kept once
    assert any("missing.png" in p for p in dataset.box_problems)
    assert any("outside" in p for p in dataset.box_problems)
    items = training_items(dataset, context_crops=2, hard_negatives=1, seed=0)
    whole, crop, negative = items
    assert whole.crop is None and whole.brands == {"Acme"}
    x1, y1, x2, y2 = crop.crop
    assert crop.brands == {"Acme"} and x1 <= 300 and y1 <= 200 and x2 >= 340 and y2 >= 240
    assert (x2 - x1) < 400 and (y2 - y1) < 300
    nx1, ny1, nx2, ny2 = negative.crop
    assert negative.brands == frozenset()
    assert nx2 <= 296 or nx1 >= 344 or ny2 <= 196 or ny1 >= 244
    assert len({whole.key, crop.key, negative.key}) == 3
    assert background_crops(dataset, 1, seed=0) == [negative]  # what threshold calibration adds as no-logo photos


def test_tiles_are_labelled_from_the_boxes_they_hold():
    from classifier.dataset import Box, Dataset, Example
    from classifier.features import training_items
    from classifier.images import tile_boxes

    boxes = [
        Box("Acme", 10, 10, 60, 60),  # inside the top-left tile only
        Box("Bolt", 200, 300, 380, 340),
    ]  # mostly in the bottom-right tile, a sliver in the bottom-left one
    example = Example(Path("p.png"), "a" * 64, frozenset({"Acme", "Bolt"}), 400, 400, boxes=boxes)
    tiles = tile_boxes(2, 0.25)[1:]  # top-left, top-right, bottom-left, bottom-right
    items = training_items(Dataset(["Acme", "Bolt"], [example]), context_crops=0, hard_negatives=0, tiles=tiles)
    assert items[0].crop is None and items[0].brands == {"Acme", "Bolt"}
    labelled = {item.crop: item.brands for item in items[1:]}
    assert labelled == {(0, 0, 229, 229): {"Acme"}, (171, 0, 400, 229): frozenset(), (171, 171, 400, 400): {"Bolt"}}
    unboxed = Example(Path("q.png"), "b" * 64, frozenset({"Acme", "Corona"}), 400, 400, boxes=boxes[:1])
    only_whole = training_items(Dataset(["Acme", "Corona"], [unboxed]), 0, 0, tiles=tiles)
    assert len(only_whole) == 1  # Corona has no box: it could be in any tile


def test_thresholds_calibrate_for_best_f1_or_target_precision():
    from classifier.thresholds import calibrate, calibrate_one

    labels = np.array([1, 1, 1, 0, 0, 0])
    assert calibrate_one(labels, np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2])) == pytest.approx(0.65)
    overlap = np.array([1, 1, 0, 0]), np.array([0.9, 0.5, 0.6, 0.1])
    assert calibrate_one(*overlap) == pytest.approx(0.3)  # recall 1, precision 2/3: best F1 0.8
    assert calibrate_one(*overlap, target_precision=1.0) == pytest.approx(0.75)
    assert calibrate_one(np.zeros(3), np.array([0.2, 0.7, 0.1])) == pytest.approx(0.701)
    both = calibrate(np.stack([labels, 1 - labels], 1), np.array([[0.9, 0.1]] * 3 + [[0.1, 0.9]] * 3), ["a", "b"])
    assert both == {"a": pytest.approx(0.5), "b": pytest.approx(0.5)}
    # 'a' alone cuts at 0.65, 'b' (one positive) at 0.3; both brands pooled: best F1 at 0.35 (4 of 4, one 0.6 false)
    pair = (
        np.stack([labels, [0, 0, 0, 1, 0, 0]], 1),
        np.stack([[0.9, 0.8, 0.7, 0.6, 0.3, 0.2], [0.1, 0.1, 0.1, 0.4, 0.2, 0.2]], 1),
    )
    assert calibrate(*pair, ["a", "b"]) == {"a": pytest.approx(0.65), "b": pytest.approx(0.3)}
    shrunk = calibrate(*pair, ["a", "b"], shrink=1.0)  # weights: positives of the brand : 1 for the pooled cut
    assert shrunk == {"a": pytest.approx((3 * 0.65 + 0.35) / 4), "b": pytest.approx((0.3 + 0.35) / 2)}


def test_metrics_from_constructed_scores():
    from classifier.evaluate import metrics_from_scores

    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.6, 0.4], [0.8, 0.7], [0.1, 0.2], [0.7, 0.1]])
    m = metrics_from_scores(labels, scores, ["a", "b"], {"a": 0.5, "b": 0.5})
    assert m["brand_top1_accuracy"] == pytest.approx(0.5)  # photo 2 ranks a above b
    assert m["nologo_false_positive_rate"] == pytest.approx(0.5)
    assert m["micro_precision"] == pytest.approx(3 / 5) and m["micro_recall"] == pytest.approx(3 / 4)
    assert m["per_brand"]["b"]["recall"] == pytest.approx(0.5) and m["per_brand"]["b"]["support"] == 2
    assert m["per_brand"]["a"]["ap"] == pytest.approx(1.0)  # both positives rank above every negative
    assert m["confusion"]["matrix"] == [[1, 0], [1, 0]]
