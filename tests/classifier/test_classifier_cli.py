"""`monitor dataset stats / train / evaluate / predict` end to end through the CLI, on drawn photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli import run_cli
from drawn_photos import BRANDS, write_folder_dataset


def monitor(*args: str, cwd: Path, check: bool = True):
    return run_cli(*args, cwd=cwd, check=check)


def test_dataset_stats_reports_counts_duplicates_and_broken_files(tmp_path):
    data = write_folder_dataset(tmp_path / "data", per_brand=2, negatives=1)
    shutil.copy(data / "Acme" / "Acme-0.jpg", data / "Corona" / "copy.jpg")
    (data / "Bolt" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = monitor("dataset", "stats", str(data), "--json", cwd=tmp_path)
    stats = json.loads(out.stdout)
    assert stats["per_class"] == {"Acme": 2, "Bolt": 2, "Corona": 3} and stats["multi_label"] == 1
    assert stats["unreadable"][0]["path"].endswith("broken.jpg")
    table = monitor("dataset", "stats", str(data), cwd=tmp_path).stdout
    assert "broken.jpg" in table and "copy.jpg" in table and "Corona" in table


def test_train_from_the_command_line_writes_a_bundle(tmp_path):
    train_dir = write_folder_dataset(tmp_path / "train", per_brand=3, negatives=3, seed=0)
    shutil.copy(train_dir / "Acme" / "Acme-0.jpg", train_dir / "Bolt" / "both.jpg")
    (train_dir / "Bolt" / "broken.jpg").write_text("not a photo")
    bundle = tmp_path / "bundle"
    result = monitor(
        "train",
        str(train_dir),
        "--out",
        str(bundle),
        "--backbone",
        "mobilenet_v1_025",
        "--weights",
        "none",
        "--input-size",
        "32",
        "--epochs",
        "2",
        "--views",
        "2",
        "--cache",
        str(tmp_path / "cache"),
        cwd=tmp_path,
    )
    assert f"saved {bundle}" in result.stdout and "validation: macro AP" in result.stdout
    assert "broken.jpg" in result.stderr
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["classes"] == list(BRANDS) and manifest["backbone"] == "mobilenet_v1_025"
    assert manifest["input_size"] == 32 and manifest["training"]["photos"] == 12
    assert manifest["training"]["views"] == 2 and set(manifest["thresholds"]) == set(BRANDS)
    # config defaults: classifier.tiling auto trains the head on 3x3 feature windows of a 1.5x pass
    windows = {"enabled": True, "grid": 3, "overlap": 0.25, "mode": "feature_windows", "scale": 1.5}
    assert manifest["training"]["tiling"] == {**windows, "head_trained_on": "feature_windows"}
    assert manifest["training"]["feature_precision"] in ("float32", "bfloat16")
    rates = manifest["metrics"]["error_rates"]  # the contract in docs/interfaces.md
    held_out = manifest["training"]["validation_photos"]
    assert rates["method"] == "cross-fit" and rates["source"] == "train" and rates["photos"] == held_out > 0
    assert rates["tiling"] == windows and set(rates["brands"]) == set(BRANDS)
    assert set(rates["brands"]["Acme"]) == {
        "threshold",
        "tp",
        "positives",
        "fp",
        "negatives",
        "fp_nologo",
        "negatives_nologo",
        "fp_other",
        "negatives_other",
        "tp_pair",
        "positives_pair",
        "recall",
        "fpr",
    }
    assert manifest["metrics"]["calibration"]["method"] in ("identity", "shared_platt", "platt", "isotonic")
    assert f"error rates (cross-fit, {held_out} photos)" in result.stdout
    assert any((tmp_path / "cache").rglob("*.npy"))
    # evaluate scores as the bundle was trained by default, and as told with --no-tiling
    for flags, scored in (([], windows), (["--no-tiling"], None)):
        out = tmp_path / f"eval{len(flags)}.json"
        monitor("evaluate", "--model", str(bundle), str(train_dir), "--json", str(out), *flags, cwd=tmp_path)
        assert json.loads(out.read_text())["error_rates"]["tiling"] == scored


def test_evaluate_and_predict_from_the_command_line(trained, drawn_sets, tmp_path):
    model = trained[0]
    bundle = tmp_path / "bundle"
    model.save(bundle)
    report = monitor(
        "evaluate",
        "--model",
        str(bundle),
        str(drawn_sets[1]),
        "--json",
        str(tmp_path / "eval.json"),
        "--html",
        str(tmp_path / "eval.html"),
        "--update-rates",
        cwd=tmp_path,
    )
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert metrics["photos"] == 40 and set(metrics["per_brand"]) == set(BRANDS)
    assert metrics["brand_top1_accuracy"] > 0.6  # chance is 1/3
    assert metrics["model"]["checksum"] == model.checksum
    assert "macro_average_precision" in report.stdout and "Corona" in report.stdout
    page = (tmp_path / "eval.html").read_text()
    assert "Plotly.newPlot" in page and '<script src="http' not in page and len(page) > 1_000_000
    assert "Reliability of the scores" in page and "<th>no logo</th>" in page and "data:image/jpeg;base64," in page
    assert "the share where it was detected anyway" in page  # metrics explained in plain words
    stored = json.loads((bundle / "bundle.json").read_text())["metrics"]["error_rates"]
    assert stored["source"] == "evaluate" and stored["method"] == "split" and stored["photos"] == 40
    acme = stored["brands"]["Acme"]
    assert acme["positives"] == 10 and acme["negatives"] == 30 and acme["negatives_nologo"] == 10
    assert acme["tp"] == round(metrics["per_brand"]["Acme"]["recall"] * 10)  # the same decisions as the table
    assert "error rates stored in" in report.stdout

    photos = sorted((drawn_sets[1] / "Acme").glob("*.jpg"))[:3]
    (tmp_path / "bad.jpg").write_text("not a photo")
    found = json.loads(
        monitor(
            "predict",
            "--model",
            str(bundle),
            *map(str, photos),
            str(tmp_path / "bad.jpg"),
            "--json",
            "--tiling",
            cwd=tmp_path,
        ).stdout
    )
    assert [entry["path"] for entry in found] == [*map(str, photos), str(tmp_path / "bad.jpg")]
    assert "cannot read the photo" in found[3]["error"]
    assert any(entry["detections"] for entry in found[:3])
    for entry in found[:3]:
        for detection in entry["detections"]:
            assert detection["brand"] in BRANDS and detection["box"] is not None
            assert detection["confidence"] >= model.thresholds[detection["brand"]]


def test_a_missing_bundle_is_one_clear_error(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    result = monitor(
        "predict", "--model", str(tmp_path / "nowhere"), str(tmp_path / "x.jpg"), cwd=tmp_path, check=False
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: model bundle")
    assert "Traceback" not in result.stderr
