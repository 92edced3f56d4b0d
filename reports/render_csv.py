"""Tidy CSV files with documented columns (columns.csv), ISO dates, UTF-8, formula injection neutralised."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from reports.csv_columns import COLUMNS, WINDOW_ORDER
from reports.errors import ReportError

__all__ = ["COLUMNS", "neutralise", "tables", "write_csv"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
            frame[column] = frame[column].map(
                lambda v: (
                    neutralise(_iso(v))
                    if not isinstance(v, (dict, list))
                    else neutralise(json.dumps(v, sort_keys=True))
                )
            )
    return frame


def tables(report: Any) -> dict[str, pd.DataFrame]:
    """The report's frames, keyed by CSV file name."""
    windows = {w.name: w for w in report.windows}
    summary = report.totals.copy()
    summary.insert(1, "window_start", summary["window"].map(lambda n: windows[n].first_day))
    summary.insert(2, "window_end", summary["window"].map(lambda n: windows[n].last_day))
    series = report.series.copy()
    series["window"] = series["period"].map(lambda d: next((w.name for w in report.windows if w.contains_day(d)), ""))
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
    top = getattr(report, "top_posts", None)
    if top is not None and not top.empty:
        out["top_posts.csv"] = top.drop(columns=["jpeg"])
    if report.kind == "campaign":
        out["lift.csv"] = report.lifts
        out["relative_lift.csv"] = report.relative
    return out


def in_time_order(frame: pd.DataFrame, order: dict[str, int]) -> pd.DataFrame:
    """Add `window_order` (1 = earliest) right after `window` and sort the rows by it (stable)."""
    if "window" not in frame.columns:
        return frame
    frame = frame.copy()
    frame.insert(frame.columns.get_loc("window") + 1, "window_order", frame["window"].map(order).astype("Int64"))
    return frame.sort_values("window_order", kind="stable", na_position="last")


def write_csv(report: Any, out_dir: Path, excel: bool = False) -> list[Path]:
    """Write every table plus columns.csv (file, column, meaning) into out_dir; returns the paths.

    `excel` writes UTF-8 with a byte-order mark, so Excel on Windows reads accents and emoji right."""
    out_dir = Path(out_dir)
    encoding = "utf-8-sig" if excel else "utf-8"
    order = {w.name: i for i, w in enumerate(sorted(report.windows, key=lambda w: w.first_day), start=1)}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        described = []
        for name, frame in tables(report).items():
            what, columns = COLUMNS[name]
            frame = in_time_order(frame[[c for c in columns if c in frame.columns]], order)
            meanings = {**columns, "window_order": WINDOW_ORDER}
            path = out_dir / name
            _prepare(frame).to_csv(path, index=False, encoding=encoding, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            written.append(path)
            described.extend({"file": name, "row": what, "column": c, "meaning": meanings[c]} for c in frame.columns)
        path = out_dir / "columns.csv"
        pd.DataFrame(described, columns=["file", "row", "column", "meaning"]).to_csv(
            path, index=False, encoding=encoding, lineterminator="\n"
        )
        written.append(path)
    except OSError as exc:
        raise ReportError(f"cannot write CSV files into {out_dir}: {exc}") from None
    return written
