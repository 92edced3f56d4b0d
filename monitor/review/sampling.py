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


def plan_sample(
    frame: Sequence[Any],
    judged_photos: dict[int, str],
    audit: dict[str, Any] | None,
    precision: float = DEFAULT_PRECISION,
) -> Plan:
    """Per stratum, the judged photos needed for every brand's recall and FPR to reach +/- precision.

    A pilot of MIN_JUDGED photos per stratum first; then each rate's interval half-width w asks for
    (w / precision)^2 times the judgments of the strata it rests on (recall: the brand's detected
    stratum and the no-detection one; FPR: the detected stratum), as 1/sqrt(n) scaling predicts.
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
        for rate, rests_on in (("recall", (brand, NO_DETECTION)), ("fpr", (brand,))):
            interval = entry.get(f"{rate}_interval")
            if not interval:
                continue
            half = (interval[1] - interval[0]) / 2
            if half <= precision:
                continue
            factor = (half / precision) ** 2
            for stratum in rests_on:
                if stratum not in sizes:
                    continue
                wanted = min(sizes[stratum], math.ceil(max(judged[stratum], MIN_JUDGED) * factor))
                if wanted > target[stratum]:
                    target[stratum], why[stratum] = wanted, f"{brand} {rate} +/-{half:.2f}"
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
