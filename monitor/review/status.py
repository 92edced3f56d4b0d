"""The `monitor status` line about the review loop: judgments per brand for the current model version."""

from __future__ import annotations

from typing import Any

from storage.judgments import judged_counts, model_version_classes, newest_model_version


def judgments_line(db: Any) -> str | None:
    """'Judgments for model version V: Acme 40 (+5 uncertain), ...', or None when there is no model version yet."""
    version_id = newest_model_version(db)
    version = model_version_classes(db, version_id) if version_id is not None else None
    if version is None:
        return None
    counts = judged_counts(db, version_id)
    brands = list(dict.fromkeys([*version["classes"], *sorted(counts)]))
    parts = []
    for brand in brands:
        modes = counts.get(brand, {})
        extra = f" (+{modes['uncertain']} uncertain)" if modes.get("uncertain") else ""
        parts.append(f"{brand} {modes.get('sample', 0)}{extra}")
    return f"Judgments for model version {version_id} (random sample; `monitor review` adds more): " + ", ".join(parts)
