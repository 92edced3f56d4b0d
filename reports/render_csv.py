"""Tidy CSV files with documented columns (columns.csv), ISO dates, UTF-8, formula injection neutralised."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from reports.errors import ReportError

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# file -> (what one row is, {column: meaning}); every written file is described in columns.csv.
COLUMNS: dict[str, tuple[str, dict[str, str]]] = {
    "summary.csv": ("one brand in one window", {
        "window": "before, during or after (period for a date-range report)",
        "window_start": "first day of the window (ISO date, UTC)",
        "window_end": "last day of the window, inclusive (ISO date, UTC)",
        "brand": "brand name as the classifier labels it",
        "days": "days in the window",
        "photos": "accepted photos in which the brand was detected",
        "images": "accepted photos ingested in the window (the denominator)",
        "rate_per_1000": "photos showing the brand per 1,000 photos ingested",
        "photos_per_day": "photos showing the brand per day",
        "reach_weighted": "sum of the reach (audience size) of the photos showing the brand, where sources give it",
        "photos_with_reach": "photos showing the brand whose source gave a reach",
        "images_reach": "sum of the reach of all photos ingested in the window",
        "reach_share": "reach_weighted / images_reach",
    }),
    "lift.csv": ("one brand, one window compared with the baseline", {
        "brand": "brand name", "window": "during or after", "baseline": "the window compared against (before)",
        "photos": "photos showing the brand in the window", "images": "photos ingested in the window",
        "baseline_photos": "photos showing the brand in the baseline", "baseline_images": "photos ingested in the baseline",
        "rate_per_1000": "rate per 1,000 photos in the window", "baseline_rate_per_1000": "rate per 1,000 photos in the baseline",
        "lift": "rate ratio window / baseline (2.0 = twice as frequent)",
        "ci_low": "lower end of the 95% confidence interval of the lift (score method)",
        "ci_high": "upper end of the 95% confidence interval of the lift",
        "p_value": "two-sided p-value of the test that the two rates are equal",
        "significant": "true when p_value < 0.05",
        "warning": "why the numbers may be too thin to conclude; empty when fine",
        "corrected_lift": "lift of the corrected counts (adjusted.csv): the figure the headline uses",
        "corrected_ci_low": "lower end of the 95% interval of corrected_lift (simulation, see adjusted.csv)",
        "corrected_ci_high": "upper end of the 95% interval of corrected_lift",
    }),
    "relative_lift.csv": ("our brand against one competitor in one window", {
        "brand": "the campaign brand", "competitor": "competitor brand", "window": "during or after",
        "brand_lift": "the campaign brand's lift", "competitor_lift": "the competitor's lift",
        "relative_lift": "brand_lift / competitor_lift (above 1: we rose more than they did)",
        "ci_low": "lower end of the 95% confidence interval (log scale, Woolf variance)",
        "ci_high": "upper end of the 95% confidence interval", "p_value": "two-sided p-value that the lifts are equal",
        "warning": "why the numbers may be too thin to conclude; empty when fine",
        "corrected_relative_lift": "the same ratio from corrected lifts: the figure the headline uses",
        "corrected_ci_low": "lower end of its 95% interval (simulation)",
        "corrected_ci_high": "upper end of its 95% interval",
    }),
    "share_of_voice.csv": ("one tracked brand in one window", {
        "window": "window name", "brand": "brand name", "photos": "photos the model counted for the brand (raw)",
        "share": "raw share: the brand's photos / all tracked brands' photos in the window (0-1)",
        "corrected_photos": "estimated photos truly showing the brand (adjusted.csv)",
        "corrected_share": "share of the tracked brands' corrected photos (0-1): the figure to read",
        "corrected_share_low": "lower end of the 95% interval of corrected_share",
        "corrected_share_high": "upper end of the 95% interval of corrected_share",
    }),
    "share_of_voice_by_period.csv": ("one tracked brand in one day or week", {
        "period": "first day of the day or week (ISO date; weeks start on Monday)", "brand": "brand name",
        "photos": "photos showing the brand", "share": "share of the tracked brands' photos (0-1)",
    }),
    "timeseries.csv": ("one brand in one day or week", {
        "period": "first day of the day or week (ISO date; weeks start on Monday)", "brand": "brand name",
        "photos": "photos showing the brand", "images": "photos ingested", "rate_per_1000": "photos per 1,000 ingested",
        "window": "the window the period starts in (campaign reports)",
    }),
    "places.csv": ("one brand at one place in one window", {
        "window": "window name", "place": "place name given by the source or photo, '(no place)' when none",
        "brand": "brand name", "photos": "photos showing the brand there", "images": "photos ingested there",
        "latitude": "mean latitude of the photos there", "longitude": "mean longitude of the photos there",
        "rate_per_1000": "photos showing the brand per 1,000 ingested there",
    }),
    "sources.csv": ("one brand from one source in one window", {
        "window": "window name", "source": "source name", "brand": "brand name",
        "photos": "photos showing the brand from the source", "images": "photos ingested from the source",
        "rate_per_1000": "photos showing the brand per 1,000 ingested from the source",
    }),
    "adjusted.csv": ("one brand in one window, corrected for the classifier's errors", {
        "window": "window name", "brand": "brand name", "photos": "photos the model counted for the brand (raw)",
        "images": "photos analysed in the window (N)",
        "recall": "share of held-out photos showing the brand that the model detected (tp / positives)",
        "fpr": "false-positive rate: share of held-out photos NOT showing the brand that it flagged (fp / negatives)",
        "false_alarms": "expected false alarms in the window: fpr x images",
        "adjusted": "estimated photos truly showing the brand: (photos - fpr x images) / (recall - fpr), at least 0",
        "adjusted_low": "lower end of the 95% interval (seeded simulation over counting noise and the Beta "
                        "posteriors of recall and fpr)",
        "adjusted_high": "upper end of the 95% interval",
        "adjusted_rate_per_1000": "adjusted per 1,000 photos analysed",
        "tp": "held-out photos showing the brand that were detected", "positives": "held-out photos showing it",
        "fp": "held-out photos not showing the brand that were detected", "negatives": "held-out photos not showing it",
        "note": "why no correction was made (raw figures then stand); empty when corrected",
    }),
    "reliability.csv": ("one brand over the whole report", {
        "brand": "brand name", "photos": "photos the model counted for the brand (raw, all windows)",
        "fpr": "false-positive rate on held-out photos without the brand", "recall": "recall on held-out photos with it",
        "expected_false_alarms": "of the counted photos, how many are likely false alarms: fpr x photos without it",
        "share_right": "how often its detections are right on this feed: 1 - expected_false_alarms / photos",
        "warning": "plain warning when false alarms are a large share of the count; empty when fine",
    }),
    "examples.csv": ("one example photo", {
        "window": "window name", "brand": "brand name", "image_id": "photo id in the database",
        "confidence": "classifier confidence (0-1; a calibrated probability when the model is calibrated)",
        "posted_at": "when the photo was posted (ISO 8601, UTC)",
        "uri": "where the photo came from", "caption": "caption given by the source", "place": "place name",
        "reach": "audience size the source gave", "source": "source name",
    }),
    "rejections.csv": ("photos rejected for one reason in one window", {
        "window": "window name", "reason": "machine-readable reason", "photos": "photos rejected",
    }),
    "fetch_failures.csv": ("photos that could not be fetched, per source and reason", {
        "source": "source name", "reason": "machine-readable reason", "failures": "photos that failed",
        "attempts": "fetch attempts in total", "last_at": "last failure (ISO 8601, UTC)",
    }),
    "failing_sources.csv": ("a source that failed to poll during the report or is failing now", {
        "source": "source name", "kind": "source kind", "last_error": "last poll error",
        "last_error_at": "when it happened (ISO 8601, UTC)", "consecutive_failures": "failed polls in a row",
        "last_success_at": "last successful poll (ISO 8601, UTC)",
    }),
    "model_versions.csv": ("a classifier version with detections in the report's span", {
        "id": "model version id", "checksum": "sha256 of the model bundle", "backbone": "network backbone",
        "input_size": "input size in pixels", "bundle_path": "where the bundle was loaded from",
        "thresholds": "per-brand decision thresholds (JSON)", "created_at": "when it was registered (ISO 8601, UTC)",
        "detections": "detections it made in the span", "used_in_report": "true for the version this report counts",
    }),
}


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _iso(value: Any) -> Any:
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return value


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].map(_iso)
        elif frame[column].dtype == object:
            # Text columns only: numbers (negative ones too) stay numbers.
            frame[column] = frame[column].map(lambda v: neutralise(_iso(v)) if not isinstance(v, (dict, list))
                                              else neutralise(json.dumps(v, sort_keys=True)))
    return frame


def tables(report: Any) -> dict[str, pd.DataFrame]:
    """The report's frames, keyed by CSV file name."""
    windows = {w.name: w for w in report.windows}
    summary = report.totals.copy()
    summary.insert(1, "window_start", summary["window"].map(lambda n: windows[n].first_day))
    summary.insert(2, "window_end", summary["window"].map(lambda n: windows[n].last_day))
    series = report.series.copy()
    series["window"] = series["period"].map(
        lambda d: next((w.name for w in report.windows if w.contains_day(d)), ""))
    out = {
        "summary.csv": summary,
        "share_of_voice.csv": report.share_by_window,
        "share_of_voice_by_period.csv": report.share_by_period,
        "timeseries.csv": series,
        "places.csv": report.places,
        "sources.csv": report.sources,
        "adjusted.csv": report.adjusted,
        "reliability.csv": report.reliability,
        "examples.csv": report.examples.drop(columns=["jpeg", "width", "height"]),
        "rejections.csv": report.quality.rejections,
        "fetch_failures.csv": report.quality.fetch_failures,
        "failing_sources.csv": report.quality.failing_sources,
        "model_versions.csv": report.quality.model_versions,
    }
    if report.kind == "campaign":
        out["lift.csv"] = report.lifts
        out["relative_lift.csv"] = report.relative
    return out


def write_csv(report: Any, out_dir: Path) -> list[Path]:
    """Write every table plus columns.csv (file, column, meaning) into out_dir; returns the paths."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        described = []
        for name, frame in tables(report).items():
            what, columns = COLUMNS[name]
            frame = frame[[c for c in columns if c in frame.columns]]
            path = out_dir / name
            _prepare(frame).to_csv(path, index=False, encoding="utf-8", lineterminator="\n",
                                   quoting=csv.QUOTE_MINIMAL)
            written.append(path)
            described.extend({"file": name, "row": what, "column": c, "meaning": columns[c]} for c in frame.columns)
        path = out_dir / "columns.csv"
        pd.DataFrame(described, columns=["file", "row", "column", "meaning"]).to_csv(
            path, index=False, encoding="utf-8", lineterminator="\n")
        written.append(path)
    except OSError as exc:
        raise ReportError(f"cannot write CSV files into {out_dir}: {exc}") from None
    return written
