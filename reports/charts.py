"""Plotly figures for the HTML report, built from the report's frames."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import plotly.graph_objects as go

PALETTE = ["#1f6feb", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057", "#c17c74"]
WINDOW_LABELS = {"before": "Before", "during": "During", "after": "After", "period": "Period"}
WEEKLY_FROM_DAYS = 21  # a span of three weeks or more is read in weeks; shorter ones in days
LOG_AXIS_FROM = 3.0  # lifts spanning more than this factor go on a log axis; narrower ones read better linear
LOG_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
LINEAR_STEPS = (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10)


def bucket_for(by: str, first: date, last: date) -> str:
    """'day' or 'week' as asked; 'auto' is weeks unless the span is shorter than three weeks."""
    if by != "auto":
        return by
    return "week" if (last - first).days + 1 >= WEEKLY_FROM_DAYS else "day"


def times_label(value: float) -> str:
    """A tick label: 0.5x, 1x, 2x, 1.25x (no trailing zeros)."""
    return f"{value:.2f}".rstrip("0").rstrip(".") + "x"


def lift_axis(values: list[float]) -> dict[str, Any]:
    """A y axis for ratios: linear when they stay within a factor of 3 around 1, else log; ticks read 0.5x, 1x, 2x."""
    finite = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    low, high = min([*finite, 1.0]), max([*finite, 1.0])
    if high / low <= LOG_AXIS_FROM:
        step = next((s for s in LINEAR_STEPS if (high - low) / s <= 8), LINEAR_STEPS[-1])
        start, end = max(0.0, low - 0.08 * (high - low) - 0.02), high + 0.08 * (high - low) + 0.02
        ticks = [round(k * step, 6) for k in range(math.ceil(start / step), math.floor(end / step) + 1)]
        if 1.0 not in ticks:
            ticks = sorted([*ticks, 1.0])
        return {
            "type": "linear",
            "range": [start, end],
            "tickvals": ticks,
            "ticktext": [times_label(t) for t in ticks],
            "title": "times the rate before",
        }
    start, end = math.log10(low) - 0.08, math.log10(high) + 0.08
    ticks = [t for t in LOG_TICKS if start <= math.log10(t) <= end]
    return {
        "type": "log",
        "range": [start, end],
        "tickvals": ticks,
        "ticktext": [times_label(t) for t in ticks],
        "title": "times the rate before (log scale)",
    }


def _layout(fig: go.Figure, title: str, **extra: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        height=380,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.18},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"},
        **extra,
    )
    return fig


def colours(brands: list[str]) -> dict[str, str]:
    """A stable colour per brand."""
    return {b: PALETTE[i % len(PALETTE)] for i, b in enumerate(brands)}


def lift_chart(lifts, brands: list[str]) -> go.Figure:
    """Lift with likely ranges per brand, during and after, with a dashed line at 1x (no change)."""
    fig = go.Figure()
    shown: list[float] = []
    for name, colour in (("during", "#1f6feb"), ("after", "#9aa5b1")):
        rows = lifts[(lifts["window"] == name) & lifts["brand"].isin(brands)].set_index("brand").reindex(brands)
        rows = rows.dropna(subset=["lift"])
        rows = rows[np.isfinite(rows["lift"]) & (rows["lift"] > 0)]
        if rows.empty:
            continue
        high = rows["ci_high"].where(np.isfinite(rows["ci_high"]), rows["lift"])
        low = rows["ci_low"].where(rows["ci_low"] > 0, rows["lift"])
        shown += [*rows["lift"], *high, *low]
        fig.add_trace(
            go.Scatter(
                x=list(rows.index),
                y=rows["lift"].tolist(),
                mode="markers",
                name=f"{WINDOW_LABELS[name]} vs before",
                marker={"size": 12, "color": colour},
                error_y={
                    "type": "data",
                    "array": (high - rows["lift"]).fillna(0).tolist(),
                    "arrayminus": (rows["lift"] - low).fillna(0).tolist(),
                    "visible": True,
                    "thickness": 2,
                },
                hovertemplate="%{x}: %{y:.2f}x<extra>" + WINDOW_LABELS[name] + "</extra>",
            )
        )
    axis = lift_axis(shown)
    fig.add_shape(type="line", xref="paper", x0=0, x1=1, yref="y", y0=1, y1=1, line={"dash": "dash", "color": "#555"})
    # Annotations on a log axis take log10 units: no change sits at log10(1) = 0, not at 1 (which reads 10x).
    fig.add_annotation(
        xref="paper",
        x=0,
        yref="y",
        y=0 if axis["type"] == "log" else 1,
        text="no change (1x)",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
        font={"color": "#555"},
    )
    return _layout(
        fig,
        "Change against before the campaign, per 1,000 photos (bars: likely range)",
        yaxis=axis,
        scattermode="group",
    )


def reach_chart(totals, brands: list[str], window_order: list[str]) -> go.Figure:
    """Photos showing each brand beside the audience those photos reached, per window."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Photos showing the brand", "People reached (sum of reach)"))
    palette = colours(brands)
    for brand in brands:
        rows = totals[totals["brand"] == brand].set_index("window").reindex(window_order)
        x = [WINDOW_LABELS.get(w, w) for w in window_order]
        common = {"name": brand, "marker_color": palette[brand], "legendgroup": brand}
        fig.add_trace(
            go.Bar(
                x=x,
                y=rows["photos"].fillna(0).tolist(),
                **common,
                hovertemplate="%{y:,} photos<extra>%{fullData.name}</extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=x,
                y=rows["reach_weighted"].fillna(0).tolist(),
                **common,
                showlegend=False,
                hovertemplate="%{y:,.0f} reached<extra>%{fullData.name}</extra>",
            ),
            row=1,
            col=2,
        )
    return _layout(fig, "Exposure: photos and the audience they reached", barmode="group")


def share_chart(share, tracked: list[str], window_order: list[str]) -> go.Figure:
    """Share of voice among the tracked brands, stacked per window."""
    fig = go.Figure()
    palette = colours(tracked)
    for brand in tracked:
        rows = share[share["brand"] == brand].set_index("window").reindex(window_order)
        fig.add_trace(
            go.Bar(
                x=[WINDOW_LABELS.get(w, w) for w in window_order],
                y=(rows["share"] * 100).tolist(),
                name=brand,
                marker_color=palette[brand],
                hovertemplate="%{y:.1f}%<extra>" + "%{fullData.name}" + "</extra>",
            )
        )
    return _layout(
        fig,
        "Share of voice among tracked brands",
        barmode="stack",
        yaxis={"title": "% of tracked brands' photos", "range": [0, 100]},
    )


def share_period_chart(share, tracked: list[str], by: str) -> go.Figure:
    """Share of voice per day or week as stacked bars; a bucket without photos is a gap, never 0%."""
    fig = go.Figure()
    palette = colours(tracked)
    for brand in tracked:
        rows = share[(share["brand"] == brand) & share["share"].notna()].sort_values("period")
        fig.add_trace(
            go.Bar(
                x=[d.isoformat() for d in rows["period"]],
                y=(rows["share"] * 100).tolist(),
                name=brand,
                marker_color=palette[brand],
                hovertemplate="%{y:.1f}%<extra>%{fullData.name}</extra>",
            )
        )
    return _layout(
        fig,
        f"Share of voice per {by} (only {by}s with photos)",
        barmode="stack",
        yaxis={"title": "%", "range": [0, 100]},
        xaxis=_time_axis(by),
    )


def series_chart(series, brands: list[str], by: str, campaign_window: Any = None) -> go.Figure:
    """Rate per 1,000 photos per day or week for each brand, with the campaign window shaded."""
    fig = go.Figure()
    palette = colours(brands)
    for brand in brands:
        rows = series[series["brand"] == brand].sort_values("period")
        fig.add_trace(
            go.Scatter(
                x=[d.isoformat() for d in rows["period"]],
                y=rows["rate_per_1000"].tolist(),
                mode="lines+markers",
                name=brand,
                line={"color": palette[brand]},
                customdata=rows[["photos", "images"]].values.tolist(),
                hovertemplate="%{y:.1f} per 1,000 (%{customdata[0]} of %{customdata[1]})"
                "<extra>%{fullData.name}</extra>",
            )
        )
    if campaign_window is not None:
        fig.add_vrect(
            x0=campaign_window.first_day.isoformat(),
            x1=(campaign_window.last_day + timedelta(days=1 if by == "day" else 0)).isoformat(),
            fillcolor="#1f6feb",
            opacity=0.08,
            line_width=0,
            annotation_text="campaign",
            annotation_position="top left",
        )
    return _layout(
        fig,
        f"Photos showing each brand per 1,000 photos, per {by}",
        yaxis={"title": "per 1,000 photos", "rangemode": "tozero"},
        xaxis=_time_axis(by),
    )


def _time_axis(by: str) -> dict[str, Any]:
    """Weekly buckets get one tick per week, labelled with the Monday that starts it."""
    if by != "week":
        return {}
    return {"dtick": 7 * 86_400_000, "tick0": "2000-01-03", "tickformat": "%b %d", "title": "week starting"}
