"""Plain-language sentences a non-statistician can read at a glance."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

FLAT_BAND = (0.8, 1.25)  # "stayed flat" only when the whole 95% interval lies inside this band


def times(value: float) -> str:
    """A ratio as '2.1x' (two significant digits below 1)."""
    if value is None or not isinstance(value, (int, float)) or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value:.1f}x" if value >= 0.995 else f"{value:.2f}x"


def interval(low: float, high: float) -> str:
    """'likely range 1.6–2.8x' (the 95% interval in plain words), or a note when no interval exists."""
    if not (math.isfinite(low) and not math.isnan(high)):
        return "no interval: a window has zero photos"
    return f"likely range {times(low).rstrip('x')}–{times(high)}"


def figures(row: Any, relative: bool = False) -> tuple[float, float, float, bool]:
    """(lift, low, high, corrected): the corrected figures where the report has them, else the raw ones."""
    key = "corrected_relative_lift" if relative else "corrected_lift"
    high = row.get("corrected_ci_high") if hasattr(row, "get") else None
    if high is not None and not pd.isna(high):  # corrected (the point may be 0/0 when both windows estimate 0)
        return float(row[key]), float(row["corrected_ci_low"]), float(high), True
    raw = row["relative_lift" if relative else "lift"]
    return float(raw), float(row["ci_low"]), float(row["ci_high"]), False


def verdict_of(low: float, high: float) -> str:
    """rise, drop, flat (the whole interval near 1), uncertain (it spans 1 and is wide) or none."""
    if math.isnan(low) or math.isnan(high):
        return "none"
    if low > 1:
        return "rise"
    if high < 1:
        return "drop"
    return "flat" if FLAT_BAND[0] <= low and high <= FLAT_BAND[1] else "uncertain"


def _too_few(row: Any) -> bool:
    return str(row["warning"]).startswith("too few")


def _raw_note(corrected: bool) -> str:
    return "" if corrected else ", raw counts: not corrected for the classifier's mistakes"


def own_sentence(row: pd.Series | None, brand: str) -> str:
    """How the campaign brand's rate moved during the campaign."""
    if row is None:
        return f"{brand} was not seen in any photo before or during the campaign."
    if _too_few(row):
        return (
            f"Too few photos to conclude about {brand}: {row['baseline_photos']} before and "
            f"{row['photos']} during the campaign."
        )
    lift, low, high, corrected = figures(row)
    kind = verdict_of(low, high)
    ci = interval(low, high) + _raw_note(corrected)
    if kind == "uncertain":
        return f"{brand}'s change during the campaign is too uncertain to tell ({times(low)}–{times(high)})."
    if kind in ("flat", "none"):
        return (
            f"{brand}'s rate per 1,000 photos did not change clearly during the campaign "
            f"({times(lift)} the rate before, {ci})."
        )
    if kind == "drop":
        return f"{brand} fell to {times(lift)} its rate per 1,000 photos before the campaign ({ci})."
    return f"{brand} appeared in {times(lift)} as many photos per 1,000 during the campaign as before ({ci})."


def competitor_phrase(row: pd.Series | None, brand: str) -> str:
    """'Globex stayed flat (...)' / 'Globex rose 1.4x (95% CI ...)' / 'Globex: too uncertain to tell (...)'."""
    if row is None or _too_few(row):
        return f"too few photos of {brand} to tell"
    lift, low, high, corrected = figures(row)
    kind = verdict_of(low, high)
    ci = interval(low, high) + _raw_note(corrected)
    if kind == "uncertain":
        return f"{brand}: too uncertain to tell ({times(low)}–{times(high)})"
    if kind in ("flat", "none"):
        return f"{brand} stayed flat ({times(lift)}, {ci})"
    verb = "rose" if kind == "rise" else "fell to"
    return f"{brand} {verb} {times(lift)} ({ci})"


def relative_sentence(row: pd.Series) -> str:
    """Our lift against one competitor's."""
    value, low, high, corrected = figures(row, relative=True)
    if verdict_of(low, high) == "none":
        return f"Against {row['competitor']}: too few photos to compare."
    if verdict_of(low, high) == "uncertain" or not math.isfinite(value):
        return (
            f"Against {row['competitor']}, {row['brand']}'s lift relative to theirs is too uncertain to tell "
            f"({times(low)}–{times(high)})."
        )
    clear = "" if low > 1 or high < 1 else " (not a clear difference)"
    return (
        f"Against {row['competitor']}, {row['brand']}'s lift was {times(value)} theirs "
        f"({interval(low, high)}{_raw_note(corrected)}){clear}."
    )


def after_sentence(during: pd.Series | None, after: pd.Series | None, brand: str) -> str:
    """Whether the change lasted after the campaign: stayed up, faded part of the way, or faded away."""
    if after is None or _too_few(after):
        return f"Too few photos after the campaign to tell whether {brand}'s change lasted."
    lift, low, high, corrected = figures(after)
    if verdict_of(low, high) == "none":
        return f"After the campaign {brand} has no interval: a window has zero photos."
    shown = f"{times(lift)} the rate before, {interval(low, high)}{_raw_note(corrected)}"
    rose = during is not None and not _too_few(during) and verdict_of(*figures(during)[1:3]) == "rise"
    if not rose:
        return f"After the campaign {brand} was at {shown}."
    peak = figures(during)[0]
    if verdict_of(low, high) != "rise":
        return f"After the campaign the lift faded: {brand} was back at {shown}."
    if high < peak:
        return f"After the campaign the lift faded from {times(peak)} but lasted in part: {brand} stayed at {shown}."
    return f"After the campaign the lift lasted: {brand} stayed at {shown}."


def campaign_headline(brand: str, competitors: list[str], lifts: pd.DataFrame, relative: pd.DataFrame) -> str:
    """One or two sentences: our lift during the campaign, what competitors did, and our lift relative to theirs."""
    during = lifts[lifts["window"] == "during"].set_index("brand")
    sentence = own_sentence(during.loc[brand] if brand in during.index else None, brand)
    phrases = [competitor_phrase(during.loc[c] if c in during.index else None, c) for c in competitors]
    if phrases:
        sentence = sentence.rstrip(".") + "; " + "; ".join(phrases) + "."
    after = lifts[lifts["window"] == "after"].set_index("brand")
    if not after.empty:
        own = during.loc[brand] if brand in during.index else None
        sentence += " " + after_sentence(own, after.loc[brand] if brand in after.index else None, brand)
    rel = relative[relative["window"] == "during"]
    extra = " ".join(relative_sentence(row) for _, row in rel.iterrows())
    return f"{sentence} {extra}".strip()
