"""The review queue: a seeded stratified random sample sized for a stated precision, or the least certain photos."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reports.audit import MIN_JUDGED
from storage.judgments import NO_DETECTION

DEFAULT_PRECISION = 0.05  # half-width of the 95% interval of each rate


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


def neyman(allocation: dict[str, Any], precision: float) -> dict[str, int]:
    """Judged photos per stratum for one rate's 95% half-width to reach `precision` (Neyman allocation).

    `allocation` holds the ratio's denominator ("total") and per stratum [N_h, N_h s_h]; with the
    variance target V = (precision / 1.96)^2 of R = Y / X, n_h = N_h s_h sum(N_k s_k) / (X^2 V + sum(N_k s_k^2)).
    """
    strata, total = allocation["strata"], allocation["total"]
    spread = sum(ns for _, ns in strata.values())
    if not total or not spread:
        return {}
    denominator = total**2 * (precision / 1.96) ** 2 + sum(ns**2 / n for n, ns in strata.values() if n)
    return {s: min(n, math.ceil(ns * spread / denominator)) for s, (n, ns) in strata.items()}


def plan_sample(
    frame: Sequence[Any],
    judged_photos: dict[int, str],
    audit: dict[str, Any] | None,
    precision: float = DEFAULT_PRECISION,
) -> Plan:
    """Per stratum, the judged photos needed for every brand's recall and FPR to reach +/- precision.

    A pilot of MIN_JUDGED photos per stratum first; then, from the judgments so far, a Neyman
    allocation per rate (more where a stratum is large and its photos disagree most), the largest
    need of any rate per stratum.
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
    for brand, entry in ((audit or {}).get("brands") or {}).items():
        for rate, allocation in (entry.get("allocation") or {}).items():
            for stratum, wanted in neyman(allocation, precision).items():
                if stratum in sizes and wanted > target[stratum]:
                    target[stratum], why[stratum] = wanted, f"{brand} {rate}"
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
