"""The feed audit pooled with the bundle's held-out rates, as far as the two agree (empirical Bayes).

Held-out photos measure the model on photos like its training photos; the feed can differ (held-out
recall is often too optimistic on real feeds). Per rate part (recall; false alarms on no-logo photos;
on photos of other brands) the held-out rate of a brand is taken as the feed's rate plus a shift of
spread tau, and tau^2 is estimated from how far the held-out rates of all audited brands lie from the
audited ones beyond counting noise, each brand weighted by how precisely its gap is known. The held-out
counts k_h of n_h then act as a prior for the audit's effective counts k_a of n_a with their variance
widened by tau^2, which keeps a share w of them: pooled counts w k_h + k_a of w n_h + n_a. Where the
two agree (tau^2 about 0) they pool in full; where the feed differs, the audit decides. One brand's
noisy audit cannot by chance agree with a held-out rate that the other brands show to be off, nor by
chance disagree with one that the other brands' audits confirm.
"""

from __future__ import annotations

import math
from typing import Any

PARTS = (  # name, hits key, trials key of the entries (the other-brand part is derived)
    ("recall", "tp", "positives"),
    ("fpr_nologo", "fp_nologo", "negatives_nologo"),
    ("fpr_other", "fp_other", "negatives_other"),
)


def _moments(hits: float, trials: float) -> tuple[float, float]:
    """Mean and variance of Beta(hits + 1, trials - hits + 1)."""
    a, b = hits + 1, trials - hits + 1
    return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))


def spread_between(pairs: list[tuple[tuple[float, float], tuple[float, float]]]) -> float:
    """How far held-out rates stray from the feed's beyond their counting noise: tau^2, at least 0.

    pairs: per brand the (mean, variance) of its held-out and of its audited rate. DerSimonian-Laird,
    uncentred: with d a brand's gap and w = 1 / (v_held + v_audit), tau^2 = (sum w d^2 - k) / sum w for
    k brands. Weighting by w keeps a brand whose audit is too small to tell from setting aside the
    held-out rates that the other brands' audits confirm (an unweighted mean of d^2 - v is ruled by
    the noisiest brand). Not centred on the mean gap, since held-out rates that are all too optimistic
    disagree just the same.
    """
    weights = [1 / (vh + va) for (_, vh), (_, va) in pairs]
    if not weights:
        return 0.0
    q = sum(w * (mh - ma) ** 2 for w, ((mh, _), (ma, _)) in zip(weights, pairs, strict=True))
    return max((q - len(pairs)) / sum(weights), 0.0)


def _audit_moments(entry: dict[str, Any], part: str, counts: tuple[float, float]) -> tuple[float, float]:
    """Mean and variance of an audited rate, the variance at least that of the rate's own 95% interval.

    The effective counts are for correcting counts (reports.audit._joint_scales): drawn apart from the
    other rate they can be more certain than the rate itself, while whether held-out and audit agree
    is a question about the rate.
    """
    mean, var = _moments(*counts)
    interval = entry.get(f"{part}_interval")
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        low, high = (_number(v) for v in interval)
        if low is not None and high is not None and high >= low:
            var = max(var, ((high - low) / 3.92) ** 2)
    return mean, var


def held_out_weight(held: tuple[float, float], tau2: float) -> float:
    """The share of the held-out counts that is left once the spread tau^2 is added to their variance."""
    mean, var = _moments(*held)
    if held[1] <= 0:
        return 0.0
    trials = mean * (1 - mean) / (var + tau2) - 1  # Beta(mean, var + tau2) as a count of trials
    return float(min(max(trials / held[1], 0.0), 1.0))


def _counts(entry: dict[str, Any], part: str, hits: str, trials: str) -> tuple[float, float] | None:
    if part == "fpr_other":
        k, n = _number(entry.get("fp")), _number(entry.get("negatives"))
        kn, nn = _number(entry.get("fp_nologo")), _number(entry.get("negatives_nologo"))
        if None in (k, n, kn, nn):
            return None
        return max(k - kn, 0.0), max(n - nn, 0.0)
    k, n = _number(entry.get(hits)), _number(entry.get(trials))
    return None if k is None or n is None else (k, n)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def pool_brands(audited: dict[str, dict[str, Any]], held: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The audited brands' entries, each rate part pooled with the held-out counts as far as the two agree.

    Per part, the spread tau^2 of held-out around audited rates is measured over all audited brands
    (reports.audit_pool.spread_between, on the rates' own variances); each brand's held-out counts then
    weigh as a prior whose variance is their own plus tau^2: in full where held-out and feed agree,
    little where they disagree. The entries keep their keys; "pooled" gives per part the weight of the
    held-out counts and tau^2.
    """
    from reports.audit import sum_parts

    counts = {
        part: {
            brand: (_counts(entry, part, hits, trials), _counts(held.get(brand) or {}, part, hits, trials))
            for brand, entry in audited.items()
        }
        for part, hits, trials in PARTS
    }
    spreads = {
        part: spread_between(
            [
                (_moments(*h), _audit_moments(audited[brand], part, a))
                for brand, (a, h) in found.items()
                if a and h and a[1] > 0 and h[1] > 0
            ]
        )
        for part, found in counts.items()
    }
    out = {}
    for brand, audit in audited.items():
        entry, weights = dict(audit), {}
        for part, hits, trials in PARTS:
            mine, theirs = counts[part][brand]
            if mine is None or not mine[1]:
                continue
            weight = held_out_weight(theirs, spreads[part]) if theirs and theirs[1] else 0.0
            if weight:
                k, n = weight * theirs[0] + mine[0], weight * theirs[1] + mine[1]
                key_k, key_n = (hits, trials) if part != "fpr_other" else ("fp_other", "negatives_other")
                entry.update({key_k: round(k, 3), key_n: round(n, 3), part: k / n})
            weights[part] = {"weight": round(weight, 3), "tau2": round(spreads[part], 6)}
        if entry.get("negatives_nologo") and entry.get("negatives_other") is not None:
            sum_parts(entry, float(audit.get("nologo_share") or 0.0))
        entry["pooled"] = weights
        out[brand] = entry
    return out
