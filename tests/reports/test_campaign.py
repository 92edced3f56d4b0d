"""Campaign and period reports over seeded databases with planted effects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from planted_world import error_rates_metrics
from sqlalchemy import insert

from report_seed import END, START, Campaign, seed, window_of
from reports import build_campaign_report, build_period_report
from reports.errors import ReportError
from storage.rollups import rebuild_rollups
from storage.schema import Detection, ModelVersion


def _row(frame, **where):
    for key, value in where.items():
        frame = frame[frame[key] == value]
    assert len(frame) == 1, where
    return frame.iloc[0]


def test_planted_doubling_is_a_lift_near_two_and_a_flat_competitor_is_flat(db_url: str) -> None:
    # Acme: 10 -> 20 -> 10 of 500 photos a day; Globex: 15 a day throughout (SQLite and PostgreSQL).
    # Three reposts a day also show Acme; they are left out by default (counts and denominator).
    db = seed(
        db_url, lambda d: 500, lambda d: {"Acme": 20 if window_of(d) == "during" else 10, "Globex": 15}, reposts=3
    )
    report = build_campaign_report(db, Campaign())
    acme = _row(report.lifts, brand="Acme", window="during")
    assert acme["lift"] == pytest.approx(2.0, rel=0.05)
    assert acme["ci_low"] > 1.0 and acme["p_value"] < 0.001
    globex = _row(report.lifts, brand="Globex", window="during")
    assert globex["ci_low"] < 1.0 < globex["ci_high"]
    after = _row(report.lifts, brand="Acme", window="after")
    assert after["ci_low"] < 1.0 < after["ci_high"]  # the effect did not last
    relative = _row(report.relative, competitor="Globex", window="during")
    assert relative["relative_lift"] == pytest.approx(2.0, rel=0.05) and relative["ci_low"] > 1.0
    assert report.headline.startswith("Acme appeared in 2.0x as many photos per 1,000 during the campaign")
    assert "Globex stayed flat" in report.headline
    assert _row(report.totals, brand="Acme", window="during")["photos"] == 20 * 14
    assert _row(report.totals, brand="Acme", window="before")["images"] == 500 * 14
    sov = _row(report.share_by_window, brand="Acme", window="during")["share"]
    assert sov == pytest.approx(20 / 35)
    # The seeded model version predates measured error rates: figures stay raw, and the report says so.
    assert report.warnings == ["The model version has no measured error rates: every figure is raw (not corrected)."]
    assert acme["corrected_lift"] != acme["corrected_lift"]  # NaN
    assert set(report.places["place"]) == {"Paris", "New York"} and set(report.sources["source"]) == {
        "feed-a",
        "feed-b",
    }
    assert set(report.quality.rejections["reason"]) == {"too_small"}
    assert report.quality.rejections["photos"].sum() == 42  # one a day over 42 days
    assert list(report.quality.failing_sources["source"]) == ["feed-b"]
    assert list(report.quality.fetch_failures["reason"]) == ["timeout"]
    assert {(r.brand, r.window) for r in report.examples.itertuples()} >= {("Acme", "during"), ("Globex", "before")}
    assert report.examples["jpeg"].notna().all()
    db.dispose()


def test_a_feed_that_doubles_for_everyone_is_not_a_lift(sqlite_url: str) -> None:
    # Volume doubles during the campaign and every brand's count doubles with it: rates stay put.
    db = seed(
        sqlite_url,
        lambda d: 800 if window_of(d) == "during" else 400,
        lambda d: {"Acme": 24 if window_of(d) == "during" else 12, "Globex": 30 if window_of(d) == "during" else 15},
    )
    report = build_campaign_report(db, Campaign())
    before, during = (_row(report.totals, brand="Acme", window=w) for w in ("before", "during"))
    assert during["photos"] == 2 * before["photos"]  # raw counts doubled...
    acme = _row(report.lifts, brand="Acme", window="during")
    assert acme["lift"] == pytest.approx(1.0) and acme["ci_low"] < 1 < acme["ci_high"]  # ...but the rate did not
    relative = _row(report.relative, competitor="Globex", window="during")
    assert relative["relative_lift"] == pytest.approx(1.0) and relative["ci_low"] < 1 < relative["ci_high"]
    assert "did not change clearly" in report.headline
    db.dispose()


def test_reposts_are_excluded_by_default_and_counted_on_request(sqlite_url: str) -> None:
    cries_wolf = error_rates_metrics({"Acme": (190, 200, 30, 1000)})  # flags 3% of photos without Acme
    db = seed(sqlite_url, lambda d: 200, lambda d: {"Acme": 10, "Globex": 10}, reposts=5, metrics=cries_wolf)
    excluded = build_campaign_report(db, Campaign())
    included = build_campaign_report(db, Campaign(), include_reposts=True)
    a = _row(excluded.totals, brand="Acme", window="during")
    b = _row(included.totals, brand="Acme", window="during")
    assert (a["photos"], a["images"]) == (10 * 14, 200 * 14)
    assert (b["photos"], b["images"]) == (15 * 14, 205 * 14)
    # A model that cries wolf (6 false alarms a day expected among 200 photos): the corrected estimate is
    # well below what it detected, and the report warns that false alarms are much of the count.
    adjusted = _row(excluded.adjusted, brand="Acme", window="during")
    assert adjusted["adjusted_high"] < adjusted["photos"]
    assert "no measured error rates for this brand" in _row(excluded.adjusted, brand="Globex", window="during")["note"]
    # expected false alarms: 3% of the (200 - 4.3) photos a day without Acme, of 10 counted: 59%
    assert any(w.startswith("About 59% of the photos counted for Acme") for w in excluded.warnings), excluded.warnings
    db.dispose()


def test_model_version_defaults_to_the_newest_with_detections_and_can_be_named(sqlite_url: str) -> None:
    db = seed(sqlite_url, lambda d: 100, lambda d: {"Acme": 10})
    with db.engine.begin() as conn:
        conn.execute(
            insert(ModelVersion.__table__),
            [
                {
                    "id": 2,
                    "checksum": "b" * 64,
                    "bundle_path": "/models/v2",
                    "backbone": "mobilenet_v2",
                    "input_size": 224,
                    "classes": ["Acme"],
                    "thresholds": {"Acme": 0.4},
                    "metrics": {},
                    "created_at": datetime(2026, 4, 2, tzinfo=UTC),
                }
            ],
        )
        conn.execute(
            insert(Detection.__table__),
            [
                {
                    "image_id": 1 + 101 * 20,
                    "brand": "Acme",
                    "confidence": 0.9,
                    "model_version_id": 2,
                    "posted_at": datetime(2026, 3, 7, 0, 0, 7, tzinfo=UTC),
                    "source_id": 1,
                }
            ],
        )
        rebuild_rollups(conn)
    newest = build_campaign_report(db, Campaign(competitors=()))
    assert newest.model_version["id"] == 2
    assert _row(newest.totals, brand="Acme", window="during")["photos"] == 1
    assert any("too few" in w or "Only" in w for w in newest.warnings)
    assert any("other model version" in w for w in newest.warnings)
    named = build_campaign_report(db, Campaign(competitors=()), model_version=1)
    assert _row(named.totals, brand="Acme", window="during")["photos"] == 140
    with pytest.raises(ReportError, match="no model version with id 9"):
        build_campaign_report(db, Campaign(), model_version=9)
    db.dispose()


def test_an_empty_database_is_a_clear_error(sqlite_url: str) -> None:
    db = seed(sqlite_url, lambda d: 0, lambda d: {}, extra=False)
    with pytest.raises(ReportError, match="no detections"):
        build_campaign_report(db, Campaign())
    db.dispose()


def test_period_report_by_week(planted) -> None:
    report = build_period_report(planted, START, END, by="week", tracked=["Acme", "Globex"])
    assert report.brands[:2] == ["Acme", "Globex"]
    assert _row(report.totals, brand="Acme")["photos"] == 20 * 14
    weeks = report.series[report.series["brand"] == "Acme"]
    assert list(weeks["photos"]) == [140, 140] and all(p.weekday() == 0 for p in weeks["period"])
    assert "analysed 7,000 photos (14 days with data of 14)" in report.headline
