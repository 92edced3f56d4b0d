"""The feed audit pooled with the bundle's held-out rates, as far as the two agree (empirical Bayes).

Held-out photos measure the model on photos like its training photos; the feed can differ (held-out
recall is often too optimistic on real feeds). Per rate part (recall; false alarms on no-logo photos;
on photos of other brands) the held-out rate of a brand is taken as the feed's rate plus a shift of
spread tau, and tau^2 is estimated from how far the held-out rates of all audited brands lie from the
audited ones beyond counting noise. The held-out counts k_h of n_h then act as a prior for the audit's
effective counts k_a of n_a with their variance widened by tau^2, which keeps a share w of them:
pooled counts w k_h + k_a of w n_h + n_a. Where the two agree (tau^2 about 0) they pool in full;
where the feed differs, the audit decides. One brand's noisy audit cannot by chance agree with a
held-out rate that the other brands show to be off.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

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
    """How far held-out rates stray from the feed's beyond their counting noise: tau^2 = mean(d^2 - v), at least 0.

    d is a brand's held-out rate minus its audited rate, v the two posteriors' variances summed; not centred
    on the mean difference, since held-out rates that are all too optimistic disagree just the same.
    """
    excess = []
    for held, audit in pairs:
        (mh, vh), (ma, va) = _moments(*held), _moments(*audit)
        excess.append((mh - ma) ** 2 - vh - va)
    return max(float(np.mean(excess)), 0.0) if excess else 0.0


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
    (reports.audit_pool.spread_between); each brand's held-out counts then weigh as a prior whose variance
    is their own plus tau^2: in full where held-out and feed agree, little where they disagree. The
    entries keep their keys; "pooled" gives per part the weight of the held-out counts and tau^2.
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
        part: spread_between([(h, a) for a, h in found.values() if a and h and a[1] > 0 and h[1] > 0])
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
