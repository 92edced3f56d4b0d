"""Error rates audited on the feed itself: recall and false-positive rate from a stratified random sample.

The sample frame is every accepted photo the model version scored, split into strata: photos detected
with a brand (by their most confident brand) and photos with no detection (where missed logos hide).
Per brand, each stratum is split again by whether the brand itself was detected (known for every
photo), and the judged photos of each cell stand for the whole cell, weighted by its size (a cell with
none borrows the brand's judgments of the cells with the same flag). The uncertainty comes from
simulation: per cell a Dirichlet (Jeffreys) posterior of the shares showing the brand / no logo / only
other brands, the unjudged rest of the cell drawn from it (so a fully judged cell is certain). The rates
are then summed up as effective counts centred on the plain stratified estimate (the prior would bias
them), in the structure of model_versions.metrics["error_rates"], so reports carry them like the
bundle's held-out rates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

MIN_JUDGED = 20  # judged photos needed in a brand's detected stratum and in the no-detection stratum
DRAWS = 4000
CATEGORIES = ("brand", "nologo", "other")  # what a judged photo shows, seen from one brand


def _beta_counts(draws: np.ndarray, cap: float, scale: float = 1.0, centre: float | None = None) -> tuple[float, float]:
    """(hits, trials) with hits / trials the `centre` (the draws' mean if none) and Beta(hits + 1, trials - hits + 1)'s
    long tail the draws'.

    Rates near 0 or 1 are skewed (no false alarm seen among a stratum's judged photos can still hide
    many), so rather than the variance the Beta matches the draws' 97.5% quantile (2.5% for rates above
    one half), the draws' spread around their mean times sqrt(scale) first; never more certain than
    counting `cap` photos once.
    """
    from scipy.stats import beta

    mean = float(np.mean(draws))
    if not np.isfinite(mean):
        return 0.0, 0.0
    level = 0.975 if mean < 0.5 else 0.025
    target = mean + np.sqrt(scale) * (float(np.quantile(draws, level)) - mean)
    if centre is not None and np.isfinite(centre):
        mean = float(centre)

    def too_wide(trials: float) -> bool:
        quantile = float(beta.ppf(level, mean * trials + 1, (1 - mean) * trials + 1))
        return quantile > target if level > 0.5 else quantile < target

    low, high = 1e-3, max(cap, 2e-3)
    if too_wide(high):
        return mean * high, high
    for _ in range(50):  # bisection on log(trials): the tail comes in as the trials grow
        middle = float(np.sqrt(low * high))
        low, high = (middle, high) if too_wide(middle) else (low, middle)
    return mean * low, low


def _category(present: dict[str, bool], brand: str) -> str:
    if present.get(brand):
        return "brand"
    return "other" if any(v for k, v in present.items() if k != brand) else "nologo"


def estimate_rates(
    frame: Sequence[Any],
    judged: Iterable[dict[str, Any]],
    brands: Sequence[str],
    thresholds: dict[str, float] | None = None,
    seed: int = 0,
    draws: int = DRAWS,
    for_counts: bool = True,
) -> dict[str, Any]:
    """Per brand audited recall and FPR from frame photos (image_id, stratum, detected) and sample judgments.

    `judged` rows carry image_id, brand and present; photos outside the frame are ignored. The effective
    counts are for correcting counts (recall and FPR drawn apart, see _joint_scales); with for_counts
    False they describe each rate on its own.
    """
    rng = np.random.default_rng(seed)
    strata = {p.image_id: p.stratum for p in frame}
    verdicts: dict[int, dict[str, bool]] = defaultdict(dict)
    for row in judged:
        if row["image_id"] in strata:
            verdicts[row["image_id"]][row["brand"]] = bool(row["present"])
    result = {}
    for brand in brands:
        sizes: dict[tuple[str, bool], int] = defaultdict(int)
        for p in frame:
            sizes[(p.stratum, brand in p.detected)] += 1
        counts: dict[tuple[str, bool], np.ndarray] = defaultdict(lambda: np.zeros(3))
        detected_in = {p.image_id: brand in p.detected for p in frame}
        for image_id, present in verdicts.items():
            if brand in present:
                key = (strata[image_id], detected_in[image_id])
                counts[key][CATEGORIES.index(_category(present, brand))] += 1
        result[brand] = _brand_rates(rng, sizes, counts, draws, (thresholds or {}).get(brand), for_counts)
    return result


def _brand_rates(
    rng: np.random.Generator, sizes: dict, counts: dict, draws: int, threshold: float | None, for_counts: bool
) -> dict[str, Any]:
    totals = {(d, c): np.zeros(draws) for d in (True, False) for c in CATEGORIES}
    for (stratum, detected), size in sizes.items():
        seen = counts.get((stratum, detected), np.zeros(3))
        prior = seen if seen.sum() else _borrowed(counts, detected)
        shares = rng.dirichlet(prior + 0.5, size=draws)
        rest = rng.multinomial(max(size - int(seen.sum()), 0), shares)
        for k, category in enumerate(CATEGORIES):
            totals[(detected, category)] += seen[k] + rest[:, k]
    plain = _plain_totals(sizes, counts)
    tp, fn = totals[(True, "brand")], totals[(False, "brand")]
    fp_nologo, tn_nologo = totals[(True, "nologo")], totals[(False, "nologo")]
    fp_other, tn_other = totals[(True, "other")], totals[(False, "other")]
    entry: dict[str, Any] = {"threshold": threshold}
    scales = _joint_scales(tp, fn, fp_nologo + fp_other, tn_nologo + tn_other) if for_counts else {}
    for name, hits, misses, hit_key, all_key in (
        ("recall", tp, fn, "tp", "positives"),
        ("fpr", fp_nologo + fp_other, tn_nologo + tn_other, "fp", "negatives"),
        ("fpr_nologo", fp_nologo, tn_nologo, "fp_nologo", "negatives_nologo"),
        ("fpr_other", fp_other, tn_other, "fp_other", "negatives_other"),
    ):
        total = hits + misses
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(total > 0, hits / np.maximum(total, 1), np.nan)
        rate = rate[np.isfinite(rate)]
        if rate.size < draws // 2:  # the class barely exists in the frame: no rate
            entry.update({hit_key: 0, all_key: 0, name: None, f"{name}_interval": None})
            continue
        centre = _plain_rate(plain, name)
        k, n = _beta_counts(
            rate,
            cap=float(np.mean(total)),
            scale=scales.get("recall" if name == "recall" else "fpr", 1.0),
            centre=centre,
        )
        entry.update(
            {
                hit_key: round(k, 3),
                all_key: round(n, 3),
                name: k / n if n else None,
                f"{name}_interval": [float(np.quantile(rate, 0.025)), float(np.quantile(rate, 0.975))],
            }
        )
    # The feed's share of no-logo photos among the brand's negatives: the overall FPR weighs its parts so.
    entry["nologo_share"] = float(
        np.mean((fp_nologo + tn_nologo) / np.maximum(fp_nologo + tn_nologo + fp_other + tn_other, 1))
    )
    if entry["negatives_nologo"]:
        sum_parts(entry, entry["nologo_share"])
    entry["allocation"] = _allocation(sizes, counts, float(np.mean(tp + fn)))
    judged = {key: int(n.sum()) for key, n in counts.items()}
    entry["judged"] = sum(judged.values())
    entry["judged_detected"] = sum(n for (_, d), n in judged.items() if d)
    entry["judged_no_detection"] = sum(n for (s, _), n in judged.items() if s == "")
    entry["strata"] = {
        s or "(no detection)": {
            "photos": sum(v for (t, _), v in sizes.items() if t == s),
            "judged": sum(v for (t, _), v in judged.items() if t == s),
        }
        for s in sorted({s for s, _ in sizes})
    }
    detected = sum(v for (_, d), v in sizes.items() if d)
    undetected = sum(v for (s, _), v in sizes.items() if s == "")
    # Enough: MIN_JUDGED photos in each of the two strata that matter most (or all of a smaller one).
    entry["enough"] = entry["judged_detected"] >= min(MIN_JUDGED, detected) and entry["judged_no_detection"] >= min(
        MIN_JUDGED, undetected
    )
    return entry


def _plain_totals(sizes: dict, counts: dict) -> dict[tuple[bool, str], float]:
    """Per (detected, category) the stratified estimate of the frame's photos with no prior: each cell's size
    times its judged shares (an unjudged cell borrows, see _borrowed).

    The Dirichlet draws' mean is pulled up for a kind of photo none of a cell's judged photos showed, by
    about half a photo per judged photo's weight, in every cell: with a large no-detection stratum and a
    few judged photos that is many missed logos that nobody saw (recall 0.92 against a true 0.97 on the
    demo). The draws keep that for the interval's tail; the rate's centre is this unbiased estimate.
    """
    out = {(d, c): 0.0 for d in (True, False) for c in CATEGORIES}
    for (stratum, detected), size in sizes.items():
        seen = counts.get((stratum, detected), np.zeros(3))
        seen = seen if seen.sum() else _borrowed(counts, detected)
        if seen.sum():
            for k, category in enumerate(CATEGORIES):
                out[(detected, category)] += size * seen[k] / seen.sum()
    return out


def _plain_rate(plain: dict, name: str) -> float | None:
    """A rate from the plain stratified totals (recall, fpr, fpr_nologo or fpr_other)."""
    kinds = {"recall": ("brand",), "fpr": ("nologo", "other"), "fpr_nologo": ("nologo",), "fpr_other": ("other",)}
    flagged = sum(plain[(True, c)] for c in kinds[name])
    total = flagged + sum(plain[(False, c)] for c in kinds[name])
    return flagged / total if total else None


def _borrowed(counts: dict, detected: bool) -> np.ndarray:
    """The judgments an unjudged cell borrows: the brand's judged photos of every cell with the same flag.

    Not its stratum's: where another brand leads the photo, the photos that show this brand detected too
    are mostly two-logo photos, and that stratum's judgments (mostly "only the other brand") would count
    them as false alarms.
    """
    return sum((n for (_, flag), n in counts.items() if flag == detected), np.zeros(3))


def _joint_scales(tp: np.ndarray, fn: np.ndarray, fp: np.ndarray, tn: np.ndarray) -> dict[str, float]:
    """Factors on the variances of recall and FPR so that reports, which draw the two independently, give
    the corrected counts the uncertainty they have under the audit's joint draws.

    Judged photos of the brand's detected cells are hits or false alarms: the audit's tp and fp move
    against each other (their sum is the detected count), so recall and FPR err together, and in the
    corrected count T = (observed - FPR N) / (recall - FPR) those errors largely cancel. Drawn apart,
    a false alarm too many moves T by (1 - recall + 1 - FPR) / (recall - FPR) instead of 1 photo, and a
    missed photo (fn) by recall / (recall - FPR). So recall keeps only its variance from fn (given fp),
    times ((recall - FPR) / recall)^2, and FPR's variance is times ((recall - FPR) / (1 - FPR))^2: exact
    for the frame's total and for windows of its prevalence, close for the others. The rates' own
    intervals (recall_interval, fpr_interval) stay as they are.
    """
    recall = tp / np.maximum(tp + fn, 1)
    fpr = fp / np.maximum(fp + tn, 1)
    r, f = float(np.mean(recall)), float(np.mean(fpr))
    if not np.isfinite(r) or not np.isfinite(f) or r - f < 0.1:  # no correction for such a brand anyway
        return {"recall": 1.0, "fpr": 1.0}
    var_recall, var_fp = float(np.var(recall)), float(np.var(fp))
    given_fp = var_recall
    if var_fp > 0 and var_recall > 0:
        given_fp = var_recall - float(np.cov(recall, fp)[0, 1]) ** 2 / var_fp
    share = max(given_fp, 0.0) / var_recall if var_recall > 0 else 1.0
    return {"recall": share * ((r - f) / r) ** 2, "fpr": ((r - f) / (1 - f)) ** 2}


def _allocation(sizes: dict, counts: dict, positives: float) -> dict[str, Any]:
    """What a Neyman allocation of more judgments needs (monitor.review.sampling): the brand's photos in
    the frame, and per stratum N_h and N_h x S_h, S_h the spread of z = missed (+1) or false alarm (-1).

    The corrected count of the frame is tp + fn = observed - fp + fn, so its error is that of fn - fp,
    the sum over strata of N_h times the mean z of the stratum's photos.
    """
    out: dict[str, Any] = {"count": {"total": positives, "strata": {}}}
    for stratum in sorted({s for s, _ in sizes}):
        size = sum(v for (t, _), v in sizes.items() if t == stratum)
        mean = square = 0.0
        for detected in (True, False):
            cell = sizes.get((stratum, detected), 0)
            if not cell:
                continue
            seen = counts.get((stratum, detected), np.zeros(3))
            seen = seen if seen.sum() else _borrowed(counts, detected)
            share = (seen + 0.5) / (seen.sum() + 1.5)  # Jeffreys: an unseen kind of photo is not ruled out
            # Detected: a photo without the brand is a false alarm (-1); not detected: one with it is missed.
            z = -(share[1] + share[2]) if detected else share[0]
            mean += cell / size * z
            square += cell / size * abs(z)
        out["count"]["strata"][stratum] = [size, size * float(np.sqrt(max(square - mean**2, 0.0)))]
    return out


def sum_parts(entry: dict[str, Any], nologo_share: float) -> None:
    """Make the overall FPR's counts the sum of the no-logo and other-brand parts' counts.

    Reports derive the other-brand part as fp - fp_nologo over negatives - negatives_nologo, and the
    overall fp / negatives must weigh the parts as the feed does: the part whose effective size is
    too large for its share of the feed is scaled down (its interval only widens).
    """
    n_nologo, n_other = entry["negatives_nologo"], entry["negatives_other"]
    if n_other and 0 < nologo_share < 1:
        n_nologo, n_other = (
            min(n_nologo, n_other * nologo_share / (1 - nologo_share)),
            min(n_other, n_nologo * (1 - nologo_share) / nologo_share),
        )
        entry.update(
            {
                "fp_nologo": round(entry["fpr_nologo"] * n_nologo, 3),
                "negatives_nologo": round(n_nologo, 3),
                "fp_other": round(entry["fpr_other"] * n_other, 3),
                "negatives_other": round(n_other, 3),
            }
        )
    fp, negatives = entry["fp_nologo"] + entry["fp_other"], entry["negatives_nologo"] + entry["negatives_other"]
    entry.update({"fp": round(fp, 3), "negatives": round(negatives, 3), "fpr": fp / negatives if negatives else None})
