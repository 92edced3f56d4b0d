"""Write a report in the requested formats into one folder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reports.errors import ReportError

FORMATS = ("csv", "html")


def parse_formats(text: str | Iterable[str]) -> list[str]:
    """'csv,html' -> ['csv', 'html']; unknown formats are a ReportError naming the valid ones."""
    items = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    unknown = [p for p in items if p not in FORMATS]
    if unknown or not items:
        raise ReportError(f"unknown report format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(items))


def slug(text: str) -> str:
    """A file-name-safe version of a campaign name: letters of any script kept; a short hash when some were lost."""
    kept = re.sub(r"[^\w.-]+", "-", text).strip("-._")[:80]
    if kept and "".join(re.findall(r"[^\W_]", text)) == "".join(re.findall(r"[^\W_]", kept)):
        return kept
    return f"{kept or 'report'}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def write_report(report: Any, out_dir: Path, formats: Iterable[str] = FORMATS, excel: bool = False) -> list[Path]:
    """Write CSV files (UTF-8 with a BOM for Excel when `excel`) and/or report.html into out_dir; returns the paths."""
    from reports.render_csv import write_csv
    from reports.render_html import write_html

    out_dir = Path(out_dir)
    written: list[Path] = []
    for fmt in parse_formats(formats):
        if fmt == "csv":
            written.extend(write_csv(report, out_dir, excel=excel))
        else:
            written.append(write_html(report, out_dir / "report.html"))
    return written


def make_report(
    url: str,
    out_dir: Path | None,
    formats: Iterable[str] = FORMATS,
    *,
    campaign: str | None = None,
    first: Any = None,
    last: Any = None,
    configured: Iterable[Any] = (),
    tracked: Iterable[str] = (),
    reports_dir: Path = Path("reports"),
    by: str = "auto",
    model_version: int | None = None,
    include_reposts: bool = False,
    raw: bool = False,
    own: Iterable[str] = (),
    excel: bool = False,
) -> tuple[Any, list[Path]]:
    """Open the database, build the campaign (by name) or period (first..last) report and write it.

    `raw` counts from the raw tables instead of the rollups (same numbers; for checks and benchmarks)."""
    from storage.campaigns import get_campaign
    from storage.engine import open_database

    if by not in ("auto", "day", "week"):
        raise ReportError(f"--by must be auto, day or week (got {by!r})")
    if (campaign is None) == (first is None or last is None):
        raise ReportError("give either --campaign NAME or both --from DATE and --to DATE")
    formats = parse_formats(formats)
    options = {
        "by": by,
        "model_version": model_version,
        "include_reposts": include_reposts,
        "tracked": list(tracked),
        "raw": raw,
    }
    db = open_database(url)
    try:
        if campaign is not None:
            from reports.campaign import build_campaign_report

            spec = get_campaign(db, campaign, configured)
            report = build_campaign_report(db, spec, **options)
            default_dir = reports_dir / slug(spec.name)
        else:
            from reports.period import build_period_report

            report = build_period_report(db, first, last, own=list(own), **options)
            default_dir = reports_dir / f"{first}_{last}"
        return report, write_report(report, Path(out_dir) if out_dir else default_dir, formats, excel)
    finally:
        db.dispose()
