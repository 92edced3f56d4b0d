"""Re-score stored photos with another model version: re-read by uri, skip changed or unreadable bytes.

The decode and classify go through monitor.batch.check_guarded, as in ingest: a stored photo that killed a
reclassify run `ingest.max_photo_attempts` times is skipped (and counted) instead of killing every rerun."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from monitor.batch import Item, check_guarded, classify_checked, forgive, read_item
from monitor.config import IngestSettings, Settings
from monitor.model import LoadedModel, load_classifier, load_model
from monitor.sources.base import ImageRef
from monitor.sources.readers import Readers
from storage.batches import accepted_images, count_accepted_images
from storage.detections import save_detections_in
from storage.engine import Database, open_database

log = logging.getLogger("monitor.reclassify")


@dataclass
class ReclassifySummary:
    """What a reclassify run did."""

    model_version_id: int
    images: int = 0  # stored accepted photos looked at
    rescored: int = 0
    changed: int = 0  # bytes at the uri differ from the stored sha256
    unreadable: int = 0
    rejected: int = 0  # readable but no longer a usable image
    killed: int = 0  # skipped: killed the process max_photo_attempts times while being decoded/classified
    detections: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, Any]) -> None:
        """Fold one batch's counts in."""
        for key in ("images", "rescored", "changed", "unreadable", "rejected", "killed"):
            setattr(self, key, getattr(self, key) + int(counts.get(key, 0)))
        for brand, n in (counts.get("detections") or {}).items():
            self.detections[brand] = self.detections.get(brand, 0) + int(n)


def read_for_rescore(readers: Readers, rows: list[dict[str, Any]]) -> tuple[list[Item], Counter]:
    """Re-read stored photos (rows of id, uri, sha256, source); only bytes still matching their sha256 go on."""
    counts: Counter = Counter(images=len(rows))
    kept = []
    for row in rows:
        item = read_item(readers.get(row["source"]), ImageRef(uri=row["uri"], external_id=str(row["id"])))
        if item.failure is not None:
            log.warning("reclassify: cannot re-read %s (%s)", row["uri"], item.failure.reason)
            counts["unreadable"] += 1
        elif item.sha256 != row["sha256"]:
            log.warning("reclassify: %s changed since it was stored; skipped", row["uri"])
            counts["changed"] += 1
        else:
            kept.append(item)
    return kept, counts


def rescore(
    db: Database, model: LoadedModel, ingest: IngestSettings, items: list[Item]
) -> tuple[dict[int, list], Counter]:
    """Detections per image id for the items that still decode, and how many did not or were skipped (one
    process, nothing else in flight: suspects are checked alone right away)."""
    try:
        check_guarded(db, items, ingest, model)
        accepted = [i for i in items if i.checked is not None]
        found = dict(zip((int(i.ref.external_id) for i in accepted), classify_checked(model, items), strict=True))
    finally:
        # Done without a kill (or raised: not a kill either). Skipped photos keep their count: the photo is
        # stored already, so no rejected row makes its bytes known, and the next run must skip it as well.
        forgive(db, [i.sha256 for i in items if i.sha256 and not _skipped(i)])
    killed = sum(1 for i in items if _skipped(i))
    return found, Counter(rescored=len(found), rejected=len(items) - len(accepted) - killed, killed=killed)


def _skipped(item: Item) -> bool:
    return item.rejected is not None and item.rejected.reason == "killed_worker"


def store_rescored(session: Session, model_version_id: int, found: dict[int, list], counts: Counter) -> dict[str, Any]:
    """Store the new version's detections inside the caller's transaction; returns the batch's counts."""
    stored = save_detections_in(session, model_version_id, found)
    return {**{k: int(v) for k, v in counts.items()}, "detections": dict(stored)}


def reclassify(
    settings: Settings,
    model_dir: Path,
    since: datetime | None = None,
    db: Database | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReclassifySummary:
    """Re-score every stored accepted photo (posted since `since`) in this process with the bundle at model_dir."""
    own_db = db is None
    db = db or open_database(settings.database.url)
    readers = Readers(settings)
    try:
        model = load_model(settings, db, load_classifier(Path(model_dir), settings))
        summary = ReclassifySummary(model.version_id)
        total, after = count_accepted_images(db, since), 0
        while True:
            rows = accepted_images(db, since, after, settings.ingest.batch_size)
            if not rows:
                return summary
            after = rows[-1]["id"]
            items, counts = read_for_rescore(readers, rows)
            found, scored = rescore(db, model, settings.ingest, items)
            with db.session(write=True) as session:
                summary.add(store_rescored(session, model.version_id, found, counts + scored))
            if on_progress is not None:
                on_progress(len(rows), total)
    finally:
        readers.close()
        if own_db:
            db.dispose()
