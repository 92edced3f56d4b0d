"""Plain-language sentences a non-statistician can read at a glance."""

from __future__ import annotations

import math
from typing import Optional

import pandas as pd


def times(value: float) -> str:
    """A ratio as '2.1x' (two significant digits below 1)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.1f}x" if value >= 0.995 else f"{value:.2f}x"


def interval(low: float, high: float) -> str:
    """'95% CI 1.6-2.8x', or a note when no interval exists."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval: a window has zero photos"
    return f"95% CI {times(low).rstrip('x')}-{times(high)}"


def _includes_one(row: pd.Series) -> bool:
    return not (math.isfinite(row["ci_low"]) and math.isfinite(row["ci_high"])) or row["ci_low"] <= 1 <= row["ci_high"]


def own_sentence(row: Optional[pd.Series], brand: str) -> str:
    """How the campaign brand's rate moved during the campaign."""
    if row is None:
        return f"{brand} was not seen in any photo before or during the campaign."
    if row["warning"].startswith("too few"):
        return (f"Too few photos to conclude about {brand}: {row['baseline_photos']} before and "
                f"{row['photos']} during the campaign.")
    ci = interval(row["ci_low"], row["ci_high"])
    if _includes_one(row):
        return (f"{brand}'s rate per 1,000 photos did not change clearly during the campaign "
                f"({times(row['lift'])} the rate before, {ci}).")
    return (f"{brand} appeared in {times(row['lift'])} as many photos per 1,000 during the campaign "
            f"as before ({ci}).")


def competitor_phrase(row: Optional[pd.Series], brand: str) -> str:
    """'Globex stayed flat' / 'Globex rose 1.4x (95% CI ...)'."""
    if row is None or row["warning"].startswith("too few"):
        return f"too few photos of {brand} to tell"
    if _includes_one(row):
        return f"{brand} stayed flat"
    verb = "rose" if row["lift"] > 1 else "fell to"
    return f"{brand} {verb} {times(row['lift'])} ({interval(row['ci_low'], row['ci_high'])})"


def relative_sentence(row: pd.Series) -> str:
    """Our lift against one competitor's."""
    if not math.isfinite(row["relative_lift"]):
        return f"Against {row['competitor']}: too few photos to compare."
    clear = "" if row["ci_low"] > 1 or row["ci_high"] < 1 else " (not a clear difference)"
    return (f"Against {row['competitor']}, {row['brand']}'s lift was {times(row['relative_lift'])} theirs "
            f"({interval(row['ci_low'], row['ci_high'])}){clear}.")


def campaign_headline(brand: str, competitors: list[str], lifts: pd.DataFrame, relative: pd.DataFrame) -> str:
    """One or two sentences: our lift during the campaign, what competitors did, and our lift relative to theirs."""
    during = lifts[lifts["window"] == "during"].set_index("brand")
    sentence = own_sentence(during.loc[brand] if brand in during.index else None, brand)
    phrases = [competitor_phrase(during.loc[c] if c in during.index else None, c) for c in competitors]
    if phrases:
        sentence = sentence.rstrip(".") + "; " + "; ".join(phrases) + "."
    rel = relative[relative["window"] == "during"]
    extra = " ".join(relative_sentence(row) for _, row in rel.iterrows())
    return f"{sentence} {extra}".strip()
