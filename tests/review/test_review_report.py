"""Reports switch to the audited rates for brands with enough judgments, and say which rates they used."""

from __future__ import annotations

from pathlib import Path

from report_seed import Campaign, seed, window_of
from reports import build_campaign_report, write_report
from reports.audited import audited_rates
from storage.judgments import Verdict, sample_frame, save_judgments

HELD_OUT = {
    "error_rates": {
        "method": "split",
        "detail": "split: 120 held-out drawn photos",
        "photos": 120,
        "measured_at": "2026-03-01T00:00:00+00:00",
        "source": "evaluate",
        "brands": {
            b: {"tp": 36, "positives": 40, "fp": 3, "negatives": 80, "fp_nologo": 2, "negatives_nologo": 50}
            for b in ("Acme", "Globex")
        },
    }
}


def test_a_report_uses_the_audit_where_enough_is_judged_and_the_bundle_elsewhere(
    sqlite_url: str, tmp_path: Path
) -> None:
    db = seed(
        sqlite_url,
        lambda d: 60,
        lambda d: {"Acme": 12 if window_of(d) == "during" else 6, "Globex": 5},
        metrics=HELD_OUT,
    )
    try:
        frame = sample_frame(db, 1)
        strata: dict[str, list] = {}
        for photo in frame:
            strata.setdefault(photo.stratum, []).append(photo)
        verdicts = []
        for photos in strata.values():  # the analyst judges Acme only, 30 photos of each stratum
            for photo in photos[::7][:30]:
                truly = ("Acme" in photo.detected) != (photo.image_id % 6 == 0)  # some misses and false alarms
                verdicts.append(Verdict(photo.image_id, "Acme", truly))
        save_judgments(db, 1, verdicts, "sample", "tester")
        audit = audited_rates(db, 1)
        assert audit["brands"]["Acme"]["enough"] and not audit["brands"]["Globex"]["enough"]

        report = build_campaign_report(db, Campaign())
        rates = report.model_version["metrics"]["error_rates"]
        assert rates["brands"]["Acme"]["used"].startswith("audit") and rates["brands"]["Globex"]["used"] == "held-out"
        assert f"Acme: audit of {audit['photos']} feed photos" in rates["detail"]
        assert "Globex: the model bundle's held-out rates (split: 120 held-out drawn photos" in rates["detail"]
        adjusted = report.adjusted.set_index(["brand", "window"])
        assert abs(adjusted.loc[("Acme", "during"), "recall"] - rates["brands"]["Acme"]["recall"]) < 1e-3
        assert adjusted.loc[("Globex", "during"), "recall"] == 36 / 40
        html = [p for p in write_report(report, tmp_path / "out", ["html"]) if p.suffix == ".html"][0]
        assert "Acme: audit of" in html.read_text(encoding="utf-8")
    finally:
        db.dispose()
