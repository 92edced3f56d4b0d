"""Audited rates from judgments stored in SQLite and PostgreSQL, in the error_rates structure reports read."""

from __future__ import annotations

from pathlib import Path

from conftest import BRANDS, plant_feed
from scipy.stats import beta

from monitor.review.session import ReviewSession
from reports.audited import audited_rates, with_audited_rates
from reports.error_rates import read_error_rates
from storage.judgments import judged_counts

INTERFACE_KEYS = {
    "threshold",
    "tp",
    "positives",
    "fp",
    "negatives",
    "fp_nologo",
    "negatives_nologo",
    "fp_other",
    "negatives_other",
    "recall",
    "fpr",
}


def test_judging_the_sample_queue_gives_audited_rates_reports_can_read(db_url: str, tmp_path: Path) -> None:
    feed = plant_feed(db_url, tmp_path / "photos", photos=400, seed=11, prevalence=0.1, recall=0.75, fpr=0.04)
    try:
        session = ReviewSession(feed.db, judged_by="tester", seed=5)
        queued = [p.image_id for p in session.queue]
        assert len(queued) == len(set(queued)) == session.plan().more_total
        for image_id in queued:  # the analyst judges the whole pilot queue, truthfully
            session.judge(image_id, [b for b in BRANDS if feed.truth[image_id][b]])
        session.judge(queued[0], [b for b in BRANDS if feed.truth[queued[0]][b]])  # again: no new rows
        assert judged_counts(feed.db, 1) == {b: {"sample": len(queued)} for b in BRANDS}

        audit = audited_rates(feed.db, 1)
        assert audit["method"] == "audit" and audit["photos"] == len(queued) and audit["frame"] == 400
        for brand in BRANDS:
            entry = audit["brands"][brand]
            assert INTERFACE_KEYS <= set(entry) and entry["enough"] and entry["threshold"] == 0.5
            shows = [i for i in feed.truth if feed.truth[i][brand]]
            frame = {p.image_id: p for p in session.frame}
            true_recall = sum(brand in frame[i].detected for i in shows) / len(shows)
            low, high = beta.ppf([0.0005, 0.9995], entry["tp"] + 1, entry["positives"] - entry["tp"] + 1)
            assert low <= true_recall <= high

        bundle = {
            "error_rates": {
                "method": "cross-fit",
                "detail": "5-fold cross-fit",
                "photos": 80,
                "measured_at": "2026-03-01T00:00:00+00:00",
                "source": "train",
                "brands": {b: {"tp": 30, "positives": 40, "fp": 2, "negatives": 200} for b in (*BRANDS, "Umbrella")},
            }
        }
        version = {"id": 1, "metrics": bundle}
        merged = with_audited_rates(feed.db, version)
        rates = read_error_rates(merged["metrics"])
        assert rates.brands["Umbrella"].positives == 40  # not audited: the bundle's held-out rates
        acme = merged["metrics"]["error_rates"]["brands"]["Acme"]
        # Pooled with the bundle's held-out recall (30 of 40) by the weight the audit's agreement gives it.
        weight = acme["pooled"]["recall"]["weight"]
        own = audit["brands"]["Acme"]
        pooled = (weight * 30 + own["tp"]) / (weight * 40 + own["positives"])
        assert 0 <= weight <= 1 and abs(rates.brands["Acme"].recall - pooled) < 1e-3
        assert acme["used"] == ("audit+held-out" if weight else "audit")
        detail = merged["metrics"]["error_rates"]["detail"]
        assert f"audit of {len(queued)} feed photos" in detail and "Umbrella: the model bundle's" in detail
        assert version["metrics"] is bundle  # the row itself is left alone
    finally:
        feed.db.dispose()
