"""The review queue: a seeded stratified random sample sized for a stated precision, or the least certain photos."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reports.audit import MIN_JUDGED
from storage.judgments import NO_DETECTION

DEFAULT_PRECISION = 0.1  # half-width of the corrected counts' 95% interval from the audited rates, relative


@dataclass
class Plan:
    """How many judged photos each stratum needs in all, and how many it has."""

    sizes: dict[str, int]
    judged: dict[str, int]
    target: dict[str, int]
    precision: float
    why: dict[str, str] = field(default_factory=dict)

    @property
    def more(self) -> dict[str, int]:
        """Judgments still needed per stratum."""
        return {s: max(self.target[s] - self.judged.get(s, 0), 0) for s in self.target}

    @property
    def more_total(self) -> int:
        """Judgments still needed in all."""
        return sum(self.more.values())


def stratum_label(stratum: str) -> str:
    """A stratum as people read it."""
    return "no detection" if stratum == NO_DETECTION else f"detected {stratum}"


def _key(seed: int, sha256: str) -> str:
    # A hash of (seed, photo) orders each stratum at random, and stays put as the feed grows.
    return hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()


def strata(frame: Sequence[Any], seed: int) -> dict[str, list[Any]]:
    """The frame's photos per stratum, each stratum in its seeded random order."""
    grouped: dict[str, list[Any]] = {}
    for photo in frame:
        grouped.setdefault(photo.stratum, []).append(photo)
    return {s: sorted(photos, key=lambda p: _key(seed, p.sha256)) for s, photos in sorted(grouped.items())}


def count_allocation(audit: dict[str, Any] | None, precision: float) -> dict[str, int]:
    """Judged photos per stratum for every brand's corrected count to reach a 95% half-width of `precision`
    (relative: 0.1 is +/-10%) from the audit alone: a compromise Neyman allocation.

    A brand's corrected count is tp + fn = observed - fp + fn; the error of fn - fp is a stratified
    estimate with variance sum_h (N_h S_h)^2 (1 / n_h - 1 / N_h) (`allocation` of reports.audit). Its
    relative variance summed over brands, sum_h A_h / n_h, is smallest for n_h proportional to
    sqrt(A_h); the total is the least that brings every brand under `precision`.
    """
    terms: list[dict[str, float]] = []
    sizes: dict[str, int] = {}
    for entry in ((audit or {}).get("brands") or {}).values():
        count = (entry.get("allocation") or {}).get("count")
        if not count or not count["total"]:
            continue
        brand = {}
        for stratum, (size, spread) in count["strata"].items():
            sizes[stratum] = int(size)
            brand[stratum] = (spread / count["total"]) ** 2
        terms.append(brand)
    weight = {s: math.sqrt(sum(t.get(s, 0.0) for t in terms)) for s in sizes}
    total_weight = sum(weight.values())
    if not total_weight:
        return {}
    share = {s: w / total_weight for s, w in weight.items()}
    wanted = (precision / 1.96) ** 2

    def judged(scale: float) -> dict[str, float]:
        return {s: min(max(scale * share[s], 1.0), sizes[s]) for s in sizes}

    def worst(scale: float) -> float:
        n = judged(scale)
        return max(sum(a * (1 / n[s] - 1 / sizes[s]) for s, a in t.items()) for t in terms)

    low, high = 1.0, float(sum(sizes.values()))
    while high - low > 1:
        middle = (low + high) / 2
        low, high = (low, middle) if worst(middle) <= wanted else (middle, high)
    return {s: math.ceil(n) for s, n in judged(high).items()}


def plan_sample(
    frame: Sequence[Any],
    judged_photos: dict[int, str],
    audit: dict[str, Any] | None,
    precision: float = DEFAULT_PRECISION,
) -> Plan:
    """Per stratum, the judged photos needed for every brand's corrected counts to reach +/- precision (relative).

    A pilot of MIN_JUDGED photos per stratum first; then, from the judgments so far, the compromise
    Neyman allocation of `count_allocation` (more where a stratum is large, its photos disagree most,
    and the rates it informs move the corrected counts most).
    """
    sizes: dict[str, int] = {}
    for photo in frame:
        sizes[photo.stratum] = sizes.get(photo.stratum, 0) + 1
    judged = {s: 0 for s in sizes}
    for stratum in judged_photos.values():
        if stratum in judged:
            judged[stratum] += 1
    target = {s: min(MIN_JUDGED, n) for s, n in sizes.items()}
    why = {s: "pilot" for s in sizes}
    for stratum, wanted in count_allocation(audit, precision).items():
        if stratum in sizes and wanted > target[stratum]:
            target[stratum], why[stratum] = wanted, "corrected counts"
    return Plan(sizes, judged, target, precision, why)


def random_queue(frame: Sequence[Any], plan: Plan, seed: int) -> list[Any]:
    """The sample in review order: strata interleaved in proportion to their targets, each in random order."""
    ordered = strata(frame, seed)
    taken = {s: 0 for s in ordered}
    queue = []
    while True:
        open_strata = [s for s in ordered if taken[s] < min(plan.target.get(s, 0), len(ordered[s]))]
        if not open_strata:
            return queue
        stratum = min(open_strata, key=lambda s: ((taken[s] + 0.5) / plan.target[s], s))
        queue.append(ordered[stratum][taken[stratum]])
        taken[stratum] += 1


def uncertain_queue(frame: Sequence[Any], thresholds: dict[str, float], limit: int) -> list[Any]:
    """Photos whose stored scores lie closest to a brand's threshold first (photos with none are not scored)."""

    def closeness(photo: Any) -> float:
        return min(abs(score - float(thresholds.get(brand, 0.5))) for brand, score in photo.detected.items())

    scored = [p for p in frame if p.detected]
    return sorted(scored, key=lambda p: (closeness(p), p.image_id))[:limit]
