"""The truth check: the demo's campaign report joined with the feed's ground truth (truth/feed.csv)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from reports.headline import verdict_of

WINDOWS = ("before", "during", "after")
PLANTED = {"before": "baseline", "during": "campaign", "after": "after"}  # the world's names for the windows
SHARE_TOLERANCE = 0.05
FLAT_TRUTH = 1.3  # a brand that truly rose this much must never be called flat


@dataclass
class TruthCheck:
    """Per cell what the report said against the truth, and the issue's acceptance checks."""

    counts: pd.DataFrame  # window, brand, images, true, photos, adjusted, adjusted_low, adjusted_high, covered
    lifts: pd.DataFrame  # brand, window, planted, true, raw, corrected, low, high, covered, verdict
    shares: pd.DataFrame  # window, brand, true_share, raw_share, corrected_share, error
    checks: dict[str, tuple[bool, str]]  # name -> (passed, what was seen)

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.checks.values())


def _window_of(day: date, campaign: dict) -> str | None:
    start, end = date.fromisoformat(campaign["start"]), date.fromisoformat(campaign["end"])
    before, after = campaign.get("baseline_days"), campaign.get("after_days")
    length = (end - start).days + 1
    if start - timedelta(days=before or length) <= day < start:
        return "before"
    if start <= day <= end:
        return "during"
    if end < day <= end + timedelta(days=after or length):
        return "after"
    return None


def true_counts(root: Path) -> pd.DataFrame:
    """Per window and brand: feed photos in the window and photos truly showing the brand."""
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))
    feed = pd.read_csv(root / "truth" / "feed.csv", dtype=str, keep_default_na=False)
    feed["window"] = [_window_of(date.fromisoformat(p[:10]), world["campaign"]) for p in feed["posted_at"]]
    feed = feed.dropna(subset=["window"])
    brands = list(world["planted"])
    images = feed.groupby("window").size()
    rows = [
        {
            "window": w,
            "brand": b,
            "images": int(images.get(w, 0)),
            "true": int(feed.loc[feed["window"] == w, "brands"].map(lambda s, b=b: b in s.split(";")).sum()),
        }
        for w in WINDOWS
        for b in brands
    ]
    return pd.DataFrame(rows)


def check_report(root: Path, report_dir: Path) -> TruthCheck:
    """Join the report's CSVs (adjusted, lift, share of voice) with the truth and run the acceptance checks."""
    root, report_dir = Path(root), Path(report_dir)
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))
    truth = true_counts(root)
    adjusted = pd.read_csv(report_dir / "adjusted.csv")
    counts = truth.merge(
        adjusted[["window", "brand", "photos", "adjusted", "adjusted_low", "adjusted_high"]],
        on=["window", "brand"],
        how="left",
    )
    counts["covered"] = (counts["adjusted_low"] <= counts["true"]) & (counts["true"] <= counts["adjusted_high"])

    rate = truth.set_index(["brand", "window"]).eval("true / images")
    lift = pd.read_csv(report_dir / "lift.csv")
    records = []
    for row in lift.itertuples(index=False):
        if row.brand not in world["planted"]:
            continue
        planted = world["planted"][row.brand]
        true = rate[(row.brand, row.window)] / rate[(row.brand, "before")]
        low, high = row.corrected_ci_low, row.corrected_ci_high
        records.append(
            {
                "brand": row.brand,
                "window": row.window,
                "planted": planted[PLANTED[row.window]] / planted["baseline"],
                "true": true,
                "raw": row.lift,
                "raw_low": row.ci_low,
                "raw_high": row.ci_high,
                "corrected": row.corrected_lift,
                "low": low,
                "high": high,
                "covered": bool(low <= true <= high),
                "verdict": verdict_of(low, high),
            }
        )
    lifts = pd.DataFrame(records)

    share = pd.read_csv(report_dir / "share_of_voice.csv")
    truth["true_share"] = truth["true"] / truth.groupby("window")["true"].transform("sum")
    shares = truth[["window", "brand", "true_share"]].merge(
        share[["window", "brand", "share", "corrected_share"]].rename(columns={"share": "raw_share"}),
        on=["window", "brand"],
        how="left",
    )
    shares["error"] = (shares["corrected_share"] - shares["true_share"]).abs()

    own = world["campaign"]["brand"]
    own_during = lifts[(lifts["brand"] == own) & (lifts["window"] == "during")].iloc[0]
    rose = lifts[lifts["true"] >= FLAT_TRUTH]
    called_flat = rose[rose["verdict"] == "flat"]
    need_counts, need_lifts = len(counts) - 1, len(lifts) - 1
    checks = {
        "counts": (
            int(counts["covered"].sum()) >= need_counts,
            f"corrected counts cover the true count in {int(counts['covered'].sum())} of {len(counts)} cells "
            f"(need {need_counts})",
        ),
        "lifts": (
            int(lifts["covered"].sum()) >= need_lifts,
            f"corrected lifts cover the true lift in {int(lifts['covered'].sum())} of {len(lifts)} (need {need_lifts})",
        ),
        "share": (
            bool((shares["error"] <= SHARE_TOLERANCE).all()),
            f"corrected share of voice within {shares['error'].max() * 100:.1f} points of the truth "
            f"(need {SHARE_TOLERANCE * 100:.0f})",
        ),
        "campaign": (
            bool(own_during["low"] > 1 or own_during["high"] < 1),
            f"{own}'s corrected lift during the campaign: {own_during['low']:.2f}-{own_during['high']:.2f}"
            f" (must exclude 1)",
        ),
        "not_flat": (
            called_flat.empty,
            "no brand that truly rose 1.3x or more is called flat"
            if called_flat.empty
            else "called flat although it rose: "
            + ", ".join(f"{r.brand} {r.window}" for r in called_flat.itertuples()),
        ),
    }
    return TruthCheck(counts, lifts, shares, checks)
