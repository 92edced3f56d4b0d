"""Error rates audited on the feed itself: recall and false-positive rate from a stratified random sample.

The sample frame is every accepted photo the model version scored, split into strata: photos detected
with a brand (by their most confident brand) and photos with no detection (where missed logos hide).
Per brand, each stratum is split again by whether the brand itself was detected (known for every
photo), and the judged photos of each cell stand for the whole cell, weighted by its size. The
uncertainty comes from simulation: per cell a Dirichlet (Jeffreys) posterior of the shares showing the
brand / no logo / only other brands, the unjudged rest of the cell drawn from it (so a fully judged
cell is certain). The rates are then summed up as effective counts, in the structure of
model_versions.metrics["error_rates"], so reports carry them like the bundle's held-out rates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

MIN_JUDGED = 20  # judged photos needed in a brand's detected stratum and in the no-detection stratum
DRAWS = 4000
CATEGORIES = ("brand", "nologo", "other")  # what a judged photo shows, seen from one brand


def _beta_counts(draws: np.ndarray, cap: float) -> tuple[float, float]:
    """(hits, trials) such that Beta(hits + 1, trials - hits + 1) has the draws' mean and variance."""
    mean, var = float(np.mean(draws)), float(np.var(draws))
    if not np.isfinite(mean):
        return 0.0, 0.0
    mean = min(max(mean, 1e-9), 1 - 1e-9)
    total = mean * (1 - mean) / var - 1 if var > 0 else float("inf")
    a, b = mean * total, (1 - mean) * total
    if not np.isfinite(total) or a + b - 2 > cap:  # no more certain than counting every photo once
        return mean * cap, cap
    if a < 1:  # keep the mean, make the posterior a proper count of zero hits
        a, b = 1.0, (1 - mean) / mean
    if b < 1:
        a, b = mean / (1 - mean), 1.0
    return a - 1, a + b - 2


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
) -> dict[str, Any]:
    """Per brand audited recall and FPR from frame photos (image_id, stratum, detected) and sample judgments.

    `judged` rows carry image_id, brand and present; photos outside the frame are ignored.
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
        result[brand] = _brand_rates(rng, sizes, counts, draws, (thresholds or {}).get(brand))
    return result


def _brand_rates(
    rng: np.random.Generator, sizes: dict, counts: dict, draws: int, threshold: float | None
) -> dict[str, Any]:
    by_stratum: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(3))
    for (stratum, _), n in counts.items():
        by_stratum[stratum] += n
    totals = {(d, c): np.zeros(draws) for d in (True, False) for c in CATEGORIES}
    for (stratum, detected), size in sizes.items():
        seen = counts.get((stratum, detected), np.zeros(3))
        # An unjudged cell borrows its stratum's judgments (same stratum, the brand's flag aside).
        prior = seen if seen.sum() else by_stratum.get(stratum, np.zeros(3))
        shares = rng.dirichlet(prior + 0.5, size=draws)
        rest = rng.multinomial(max(size - int(seen.sum()), 0), shares)
        for k, category in enumerate(CATEGORIES):
            totals[(detected, category)] += seen[k] + rest[:, k]
    tp, fn = totals[(True, "brand")], totals[(False, "brand")]
    fp_nologo, tn_nologo = totals[(True, "nologo")], totals[(False, "nologo")]
    fp_other, tn_other = totals[(True, "other")], totals[(False, "other")]
    entry: dict[str, Any] = {"threshold": threshold}
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
        k, n = _beta_counts(rate, cap=float(np.mean(total)))
        entry.update(
            {
                hit_key: round(k, 3),
                all_key: round(n, 3),
                name: k / n if n else None,
                f"{name}_interval": [float(np.quantile(rate, 0.025)), float(np.quantile(rate, 0.975))],
            }
        )
    if entry["negatives_nologo"]:
        _sum_parts(
            entry, float(np.mean((fp_nologo + tn_nologo) / np.maximum(fp_nologo + tn_nologo + fp_other + tn_other, 1)))
        )
    entry["allocation"] = _allocation(
        sizes,
        counts,
        by_stratum,
        float(np.mean(tp / np.maximum(tp + fn, 1))),
        float(np.mean((fp_nologo + fp_other) / np.maximum(fp_nologo + fp_other + tn_nologo + tn_other, 1))),
        float(np.mean(tp + fn)),
        float(np.mean(fp_nologo + fp_other + tn_nologo + tn_other)),
    )
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


def _allocation(
    sizes: dict, counts: dict, by_stratum: dict, recall: float, fpr: float, positives: float, negatives: float
) -> dict[str, Any]:
    """Per rate, each stratum's N_h x s_h (s_h: the spread of the ratio's linearised values) and the ratio's
    denominator: what a Neyman allocation of more judgments needs (monitor.review.sampling)."""
    out: dict[str, Any] = {"recall": {"total": positives, "strata": {}}, "fpr": {"total": negatives, "strata": {}}}
    for stratum in sorted({s for s, _ in sizes}):
        size = sum(v for (t, _), v in sizes.items() if t == stratum)
        moments = {"recall": [0.0, 0.0], "fpr": [0.0, 0.0]}
        for detected in (True, False):
            cell = sizes.get((stratum, detected), 0)
            if not cell:
                continue
            seen = counts.get((stratum, detected), np.zeros(3))
            seen = seen if seen.sum() else by_stratum.get(stratum, np.zeros(3))
            share = (seen + 0.5) / (seen.sum() + 1.5)  # Jeffreys: an unseen kind of photo is not ruled out
            weight = cell / size
            for rate, z_brand, z_other in (
                ("recall", (1 - recall if detected else -recall), 0.0),
                ("fpr", 0.0, (1 - fpr if detected else -fpr)),
            ):
                mean = share[0] * z_brand + (share[1] + share[2]) * z_other
                square = share[0] * z_brand**2 + (share[1] + share[2]) * z_other**2
                moments[rate][0] += weight * mean
                moments[rate][1] += weight * square
        for rate, (mean, square) in moments.items():
            out[rate]["strata"][stratum] = [size, size * float(np.sqrt(max(square - mean**2, 0.0)))]
    return out


def _sum_parts(entry: dict[str, Any], nologo_share: float) -> None:
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


def audited_rates(
    db: Any, model_version_id: int, brands: Sequence[str] | None = None, seed: int = 0
) -> dict[str, Any] | None:
    """metrics["error_rates"]-shaped audited rates of a model version, or None when nothing is judged yet."""
    from storage.judgments import judgments, model_version_classes, sample_frame

    version = model_version_classes(db, model_version_id)
    rows = judgments(db, model_version_id, mode="sample")
    if version is None or not rows:
        return None
    frame = sample_frame(db, model_version_id)
    brands = list(brands) if brands is not None else list(version["classes"])
    rates = estimate_rates(frame, rows, brands, version["thresholds"], seed=seed)
    photos = len({r["image_id"] for r in rows})
    when = max(r["judged_at"] for r in rows)
    return {
        "method": "audit",
        "source": "audit",
        "tiling": None,
        "photos": photos,
        "frame": len(frame),
        "measured_at": when.isoformat(),
        "model_version": model_version_id,
        "detail": f"stratified random audit of {photos} feed photos judged by people "
        f"(of {len(frame)} photos, weighted by stratum size), last judged {when:%Y-%m-%d %H:%M} UTC",
        "brands": rates,
    }


def _when(text: Any) -> str:
    return str(text or "?")[:16].replace("T", " ")


def with_audited_rates(db: Any, version: dict[str, Any]) -> dict[str, Any]:
    """The model version row with metrics["error_rates"] using the feed audit for brands with enough judgments.

    Other brands keep the bundle's held-out rates. Each brand entry says which rates it carries under
    "used", and "detail" says it for the whole report (audit of N photos and when, or held-out rates).
    """
    metrics = dict(version.get("metrics") or {})
    bundle = metrics.get("error_rates") if isinstance(metrics.get("error_rates"), dict) else None
    audit = audited_rates(db, int(version["id"]))
    chosen = {b: e for b, e in ((audit or {}).get("brands") or {}).items() if e.get("enough")}
    if not chosen:
        return version
    held_out = {
        b: dict(e, used="held-out")
        for b, e in ((bundle or {}).get("brands") or {}).items()
        if b not in chosen and isinstance(e, dict)
    }
    audited = {b: dict(e, used="audit") for b, e in chosen.items()}
    parts = [
        f"{', '.join(sorted(audited))}: audit of {audit['photos']} judged feed photos, stratified random "
        f"sample weighted by stratum size (last judged {_when(audit['measured_at'])} UTC)"
    ]
    if held_out:
        parts.append(
            f"{', '.join(sorted(held_out))}: the model bundle's held-out rates "
            f"({(bundle or {}).get('detail') or (bundle or {}).get('method', '?')}, "
            f"measured {_when((bundle or {}).get('measured_at'))})"
        )
    metrics["error_rates"] = {
        **(bundle or {}),
        "method": "audit" if not held_out else "audit+held-out",
        "detail": "; ".join(parts),
        "photos": audit["photos"],
        "measured_at": audit["measured_at"],
        "source": "audit",
        "brands": {**held_out, **audited},
        "audit": {"photos": audit["photos"], "frame": audit["frame"]},
    }
    return {**version, "metrics": metrics}
