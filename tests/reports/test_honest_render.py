"""What the reader sees: corrected figures first, raw beside them, honest words for wide intervals and confidence."""

from __future__ import annotations

import csv
from pathlib import Path

from planted_world import error_rates_metrics

from report_seed import Campaign, seed, window_of
from reports import build_campaign_report, write_report


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csvs_carry_corrected_and_raw_figures_and_the_html_says_what_is_uncertain(
    sqlite_url: str, tmp_path: Path
) -> None:
    # Acme doubles against a small false-alarm floor; Globex is flat but its rates rest on few photos,
    # so its corrected lift is too uncertain to tell. The model's confidences are calibrated.
    metrics = error_rates_metrics({"Acme": (900, 1000, 20, 4000), "Globex": (14, 20, 3, 40)})
    metrics["calibration"] = {"method": "platt", "brands": {}, "photos": 1000}
    db = seed(
        sqlite_url,
        lambda d: 400,
        lambda d: {"Acme": 40 if window_of(d) == "during" else 20, "Globex": 60},
        metrics=metrics,
    )
    report = build_campaign_report(db, Campaign(), examples=4)
    files = {p.name: p for p in write_report(report, tmp_path / "out")}
    db.dispose()

    lift = {(r["brand"], r["window"]): r for r in _read(files["lift.csv"])}
    for column in ("lift", "ci_low", "ci_high", "corrected_lift", "corrected_ci_low", "corrected_ci_high"):
        assert lift[("Acme", "during")][column] != ""
    assert float(lift[("Acme", "during")]["corrected_ci_low"]) > 1
    adjusted = _read(files["adjusted.csv"])
    assert {"window", "brand", "photos", "adjusted", "adjusted_low", "adjusted_high"} <= set(adjusted[0])
    described = {(r["file"], r["column"]) for r in _read(files["columns.csv"])}
    assert ("lift.csv", "corrected_lift") in described and ("reliability.csv", "share_right") in described
    shares = _read(files["share_of_voice.csv"])
    assert all(r["share"] and r["corrected_share"] for r in shares)

    html = files["report.html"].read_text(encoding="utf-8")
    globex = report.lifts.set_index(["brand", "window"]).loc[("Globex", "during")]
    assert globex["corrected_ci_high"] / globex["corrected_ci_low"] > 1.6
    assert "Globex: too uncertain to tell" in report.headline and "stayed flat" not in report.headline
    assert "too uncertain to tell (" in html
    assert "likely" in html and "% sure" not in html
    # Examples are a random sample, not the surest photos: their confidences vary within a window.
    acme = report.examples[(report.examples["brand"] == "Acme") & (report.examples["window"] == "during")]
    assert len(acme) == 4 and acme["confidence"].nunique() > 1
    assert "Detections right on this feed" in html


def test_an_uncalibrated_model_shows_a_score_not_a_probability(sqlite_url: str, tmp_path: Path) -> None:
    db = seed(
        sqlite_url,
        lambda d: 100,
        lambda d: {"Acme": 10, "Globex": 8},
        metrics=error_rates_metrics({"Acme": (90, 100, 2, 400), "Globex": (90, 100, 2, 400)}),
    )
    report = build_campaign_report(db, Campaign())
    html = Path(write_report(report, tmp_path / "out", ["html"])[0]).read_text(encoding="utf-8")
    db.dispose()
    assert "not a calibrated probability" in html and "% likely" not in html
