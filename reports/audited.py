"""A model version's audited rates from the stored judgments, and the rates a report uses with them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.audit import estimate_rates


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

    The audit is pooled with the bundle's held-out rates as far as they agree (reports.audit_pool);
    other brands keep the bundle's held-out rates. Each brand entry says which rates it carries under
    "used", and "detail" says it for the whole report (audit of N photos and when, or held-out rates).
    """
    from reports.audit_pool import pool_brands

    metrics = dict(version.get("metrics") or {})
    bundle = metrics.get("error_rates") if isinstance(metrics.get("error_rates"), dict) else None
    audit = audited_rates(db, int(version["id"]))
    chosen = {b: e for b, e in ((audit or {}).get("brands") or {}).items() if e.get("enough")}
    if not chosen:
        return version
    bundle_brands = (bundle or {}).get("brands") or {}
    held_out = {
        b: dict(e, used="held-out") for b, e in bundle_brands.items() if b not in chosen and isinstance(e, dict)
    }
    held = {b: e for b, e in bundle_brands.items() if isinstance(e, dict)}
    audited = {
        brand: dict(entry, used="audit+held-out" if any(w["weight"] for w in entry["pooled"].values()) else "audit")
        for brand, entry in pool_brands(chosen, held).items()
    }
    weights = ", ".join(
        f"{b} " + "/".join(f"{w['weight']:.1f}" for w in e["pooled"].values()) for b, e in sorted(audited.items())
    )
    parts = [
        f"{', '.join(sorted(audited))}: audit of {audit['photos']} feed photos (stratified random sample, "
        f"last judged {_when(audit['measured_at'])} UTC) pooled with held-out counts where they agree "
        f"(held-out weight, recall/no-logo/other: {weights})"
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
