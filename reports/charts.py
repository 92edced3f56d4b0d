"""Plotly figures for the HTML report, built from the report's frames."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import plotly.graph_objects as go

PALETTE = ["#1f6feb", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057", "#c17c74"]
WINDOW_LABELS = {"before": "Before", "during": "During", "after": "After", "period": "Period"}


def _layout(fig: go.Figure, title: str, **extra: Any) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", height=380,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.18},
                      font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"}, **extra)
    return fig


def colours(brands: list[str]) -> dict[str, str]:
    """A stable colour per brand."""
    return {b: PALETTE[i % len(PALETTE)] for i, b in enumerate(brands)}


def lift_chart(lifts, brands: list[str]) -> go.Figure:
    """Lift with 95% intervals per brand, during and after, on a log axis with a line at 1 (no change)."""
    fig = go.Figure()
    for name, colour in (("during", "#1f6feb"), ("after", "#9aa5b1")):
        rows = lifts[(lifts["window"] == name) & lifts["brand"].isin(brands)].set_index("brand").reindex(brands)
        rows = rows.dropna(subset=["lift"])
        rows = rows[np.isfinite(rows["lift"]) & (rows["lift"] > 0)]
        if rows.empty:
            continue
        upper = (rows["ci_high"] - rows["lift"]).fillna(0).tolist()
        lower = (rows["lift"] - rows["ci_low"]).fillna(0).tolist()
        fig.add_trace(go.Scatter(
            x=list(rows.index), y=rows["lift"].tolist(), mode="markers", name=f"{WINDOW_LABELS[name]} vs before",
            marker={"size": 12, "color": colour},
            error_y={"type": "data", "array": upper, "arrayminus": lower, "visible": True, "thickness": 2},
            hovertemplate="%{x}: %{y:.2f}x<extra>" + WINDOW_LABELS[name] + "</extra>"))
    fig.add_hline(y=1, line_dash="dash", line_color="#555", annotation_text="no change",
                  annotation_position="top left")
    return _layout(fig, "Lift: rate per 1,000 photos compared with before (95% interval)",
                   yaxis={"type": "log", "title": "times the rate before"}, scattermode="group")


def share_chart(share, tracked: list[str], window_order: list[str]) -> go.Figure:
    """Share of voice among the tracked brands, stacked per window."""
    fig = go.Figure()
    palette = colours(tracked)
    for brand in tracked:
        rows = share[share["brand"] == brand].set_index("window").reindex(window_order)
        fig.add_trace(go.Bar(x=[WINDOW_LABELS.get(w, w) for w in window_order], y=(rows["share"] * 100).tolist(),
                             name=brand, marker_color=palette[brand],
                             hovertemplate="%{y:.1f}%<extra>" + "%{fullData.name}" + "</extra>"))
    return _layout(fig, "Share of voice among tracked brands", barmode="stack",
                   yaxis={"title": "% of tracked brands' photos", "range": [0, 100]})


def share_period_chart(share, tracked: list[str], by: str) -> go.Figure:
    """Share of voice per day or week as stacked areas."""
    fig = go.Figure()
    palette = colours(tracked)
    for brand in tracked:
        rows = share[share["brand"] == brand].sort_values("period")
        fig.add_trace(go.Scatter(x=[d.isoformat() for d in rows["period"]], y=(rows["share"] * 100).tolist(),
                                 name=brand, stackgroup="one", line={"color": palette[brand]}))
    return _layout(fig, f"Share of voice per {by}", yaxis={"title": "%", "range": [0, 100]}, xaxis=_time_axis(by))


def series_chart(series, brands: list[str], by: str, campaign_window: Any = None) -> go.Figure:
    """Rate per 1,000 photos per day or week for each brand, with the campaign window shaded."""
    fig = go.Figure()
    palette = colours(brands)
    for brand in brands:
        rows = series[series["brand"] == brand].sort_values("period")
        fig.add_trace(go.Scatter(x=[d.isoformat() for d in rows["period"]], y=rows["rate_per_1000"].tolist(),
                                 mode="lines+markers", name=brand, line={"color": palette[brand]},
                                 customdata=rows[["photos", "images"]].values.tolist(),
                                 hovertemplate="%{y:.1f} per 1,000 (%{customdata[0]} of %{customdata[1]})"
                                               "<extra>%{fullData.name}</extra>"))
    if campaign_window is not None:
        fig.add_vrect(x0=campaign_window.first_day.isoformat(),
                      x1=(campaign_window.last_day + timedelta(days=1 if by == "day" else 0)).isoformat(),
                      fillcolor="#1f6feb", opacity=0.08, line_width=0, annotation_text="campaign",
                      annotation_position="top left")
    return _layout(fig, f"Photos showing each brand per 1,000 photos, per {by}",
                   yaxis={"title": "per 1,000 photos", "rangemode": "tozero"}, xaxis=_time_axis(by))


def _time_axis(by: str) -> dict[str, Any]:
    """Weekly buckets get one tick per week, labelled with the Monday that starts it."""
    if by != "week":
        return {}
    return {"dtick": 7 * 86_400_000, "tick0": "2000-01-03", "tickformat": "%b %d", "title": "week starting"}
