"""One self-contained HTML file: plotly.js inline, thumbnails as data: URIs, every text escaped."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.io as pio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reports import charts, geo
from reports.correction import DRAWS, MIN_SEPARATION
from reports.error_rates import is_calibrated, read_error_rates
from reports.errors import ReportError
from reports.estimates import FALSE_ALARM_WARNING
from reports.headline import FLAT_BAND, figures, times, verdict_of
from reports.metrics import MAX_CI_RATIO, MIN_PHOTOS
from reports.top_posts import safe_link
from reports.windows import Window

TEMPLATES = Path(__file__).resolve().parent / "templates"
_JS_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(fig: Any) -> Markup:
    """Figure JSON safe inside <script>: <, >, & and line separators become \\u escapes (still valid JSON)."""
    text = pio.to_json(fig, validate=False, pretty=False)
    for raw, escaped in _JS_ESCAPES.items():
        text = text.replace(raw, escaped)
    return Markup(text)


def _script_text(text: str) -> Markup:
    """JSON text safe inside <script> (the same escapes as script_json)."""
    for raw, escaped in _JS_ESCAPES.items():
        text = text.replace(raw, escaped)
    return Markup(text)


def _number(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int,)) or (isinstance(value, float) and value.is_integer() and digits == 0):
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _p_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _percent(value: Any) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


def _when(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value)


def _ratio(value: Any) -> str:
    from reports.headline import times

    return times(value) if value is not None else "–"


def _thumbnail(row: Any) -> str | None:
    if row.jpeg is None or (isinstance(row.jpeg, float) and math.isnan(row.jpeg)):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(bytes(row.jpeg)).decode("ascii")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=_number, p_value=_p_value, percent=_percent, ratio=_ratio, when=_when)
    return env


def verdict(row: Any) -> str:
    """A plain word for one lift row (corrected figures where the report has them)."""
    if row is None:
        return ""
    if str(row["warning"]).startswith("too few"):
        return "too few photos to tell"
    _, low, high, corrected = figures(row)
    words = {
        "rise": "clear rise",
        "drop": "clear drop",
        "flat": "flat",
        "none": "no interval",
        "uncertain": f"too uncertain to tell ({times(low)}–{times(high)})",
    }
    return words[verdict_of(low, high)] + ("" if corrected else " (raw)")


def confidence_text(value: Any, calibrated: bool) -> str:
    """'about 85% likely' for a calibrated probability; otherwise the bare score, said to be no probability."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if calibrated:
        return f"about {5 * round(20 * float(value)):.0f}% likely"
    return f"model score {float(value):.2f} (not a calibrated probability)"


def _display_lifts(lifts: pd.DataFrame) -> pd.DataFrame:
    """Lifts with the corrected figures in the lift columns where they exist (for the chart)."""
    shown = lifts.copy()
    if "corrected_lift" in shown:
        have = shown["corrected_lift"].notna()
        for raw, fixed in (
            ("lift", "corrected_lift"),
            ("ci_low", "corrected_ci_low"),
            ("ci_high", "corrected_ci_high"),
        ):
            shown.loc[have, raw] = shown.loc[have, fixed]
    return shown


def _display_share(share: pd.DataFrame) -> pd.DataFrame:
    shown = share.copy()
    if "corrected_share" in shown and shown["corrected_share"].notna().any():
        shown["share"] = shown["corrected_share"]
    return shown


def _key_rows(report: Any) -> list[dict[str, Any]]:
    """Per brand: corrected (and raw) photos and rate per window, the corrected lift and verdict, reliability."""
    lifts = getattr(report, "lifts", None)
    during = lifts[lifts["window"] == "during"].set_index("brand") if lifts is not None else pd.DataFrame()
    reliability = report.reliability.set_index("brand")
    rows = []
    for brand in report.brands[:12]:
        cells = {r["window"]: r for r in report.adjusted[report.adjusted["brand"] == brand].to_dict("records")}
        lift = during.loc[brand] if brand in during.index else None
        shown = figures(lift) if lift is not None else None
        rows.append(
            {
                "brand": brand,
                "cells": cells,
                "lift": shown,
                "verdict": verdict(lift),
                "reliability": reliability.loc[brand].to_dict() if brand in reliability.index else {},
            }
        )
    return rows


def _pivot(
    frame: pd.DataFrame,
    keys: list[str],
    windows: list[str],
    limit_keys: list[Any] | None = None,
    brand_order: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows per `keys` with, per window, photos / images / rate per 1,000 (and the lift row if given)."""
    rows = []
    if frame.empty:
        return rows
    if limit_keys is not None:
        frame = frame[frame[keys[0]].isin(limit_keys)]
    for key, group in frame.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        cells = {r["window"]: r for r in group.to_dict("records")}
        rows.append({**dict(zip(keys, key, strict=True)), "cells": cells})
    first = limit_keys if limit_keys is not None else sorted({r[keys[0]] for r in rows})
    brands = list(dict.fromkeys(brand_order or [])) + sorted({r["brand"] for r in rows})
    return sorted(rows, key=lambda r: (first.index(r[keys[0]]), brands.index(r["brand"])))


def _map_points(report: Any) -> pd.DataFrame | None:
    """The map's points for the first brand (the campaign brand), or None when no place has coordinates."""
    if not report.brands or report.places.empty:
        return None
    names = [w.name for w in report.windows]
    campaign = report.kind == "campaign"
    points = geo.place_points(
        report.places,
        report.brands[0],
        "before" if campaign else None,
        "during" if campaign and "during" in names else None,
    )
    return None if points.empty else points


def _top_posts(report: Any) -> list[dict[str, Any]]:
    """Top posts grouped per brand, in window order; links are http(s) only (reports.top_posts.safe_link)."""
    top = getattr(report, "top_posts", None)
    if top is None or top.empty:
        return []
    names = [w.name for w in report.windows]
    groups = []
    for brand in report.brands:
        rows = top[top["brand"] == brand]
        if rows.empty:
            continue
        rows = rows.assign(_w=rows["window"].map(names.index)).sort_values(["_w", "rank"], kind="stable")
        items = [
            {
                "window": row.window,
                "reach": row.reach,
                "posted_at": _when(row.posted_at),
                "link": row.link,
                "place": row.place,
                "caption": row.caption,
                "source": row.source,
                "src": _thumbnail(row),
            }
            for row in rows.itertuples(index=False)
        ]
        groups.append({"brand": brand, "items": items})
    return groups


def _figures(report: Any) -> list[dict[str, Any]]:
    shown = []
    windows: tuple[Window, ...] = report.windows
    if report.kind == "campaign":
        shown.append(("lift", charts.lift_chart(_display_lifts(report.lifts), report.brands)))
    shown.append(
        (
            "series",
            charts.series_chart(
                report.series, report.brands[:8], report.by, next((w for w in windows if w.name == "during"), None)
            ),
        )
    )
    shown.append(
        (
            "share",
            charts.share_chart(_display_share(report.share_by_window), report.tracked[:8], [w.name for w in windows]),
        )
    )
    shown.append(("share_period", charts.share_period_chart(report.share_by_period, report.tracked[:8], report.by)))
    shown.append(("reach", charts.reach_chart(report.totals, report.brands[:8], [w.name for w in windows])))
    points = _map_points(report)
    if points is not None:
        shown.append(("map", geo.map_chart(points, report.brands[0], report.kind == "campaign")))
    return [{"id": f"chart-{name}", "name": name, "json": script_json(fig)} for name, fig in shown]


def _examples(report: Any) -> list[dict[str, Any]]:
    """Example photos, grouped per brand in window order."""
    names = [w.name for w in report.windows]
    calibrated = is_calibrated(report.model_version.get("metrics"))
    examples = report.examples.assign(_w=report.examples["window"].map(names.index)).sort_values(
        "_w", kind="stable"
    )  # within a window: the sample's order (highest reach first)
    items = [
        {
            "window": row.window,
            "brand": row.brand,
            "confidence": confidence_text(row.confidence, calibrated),
            "posted_at": row.posted_at.strftime("%Y-%m-%d %H:%M UTC") if hasattr(row.posted_at, "strftime") else "",
            "uri": row.uri,
            "link": safe_link(row.uri),
            "caption": row.caption,
            "place": row.place,
            "source": row.source,
            "src": _thumbnail(row),
        }
        for row in examples.itertuples(index=False)
    ]
    return [
        {"brand": brand, "items": [i for i in items if i["brand"] == brand]}
        for brand in report.brands
        if any(i["brand"] == brand for i in items)
    ]


def render_html(report: Any) -> str:
    """The report as one HTML document."""
    from plotly.offline import get_plotlyjs

    names = [w.name for w in report.windows]
    places = (
        report.places.groupby(["place"], as_index=False)["images"]
        .max()
        .sort_values("images", ascending=False)
        .head(15)["place"]
        .tolist()
    )
    key_rows = _key_rows(report)
    adjusted = {(r["brand"], r["window"]): r for r in report.adjusted.to_dict("records")}
    context = {
        "report": report,
        "campaign": getattr(report, "campaign", None),
        "windows": report.windows,
        "figures": _figures(report),
        "plotly_js": Markup(get_plotlyjs()),
        "examples": _examples(report),
        "top_posts": _top_posts(report),
        "world_topojson": _script_text(geo.world_topojson()),
        "topojson_name": geo.TOPOJSON_NAME,
        "window_names": names,
        "key_rows": key_rows,
        "adjusted": adjusted,
        "place_rows": _pivot(report.places, ["place", "brand"], names, places, report.brands),
        "source_rows": _pivot(report.sources, ["source", "brand"], names, None, report.brands),
        "min_photos": MIN_PHOTOS,
        "max_ci_ratio": MAX_CI_RATIO,
        "flat_band": FLAT_BAND,
        "draws": DRAWS,
        "min_separation": MIN_SEPARATION,
        "false_alarm_warning": FALSE_ALARM_WARNING,
        "error_rates": read_error_rates(report.model_version.get("metrics")),
        "version": report.model_version,
        "quality": report.quality,
    }
    return _environment().get_template("report.html.j2").render(**context)


def write_html(report: Any, path: Path) -> Path:
    """Write the report's HTML file; returns its path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write the HTML report to {path}: {exc}") from None
    return path
