"""A review session: the model version, its sample frame, the queue in review order, and storing verdicts."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from monitor.errors import FetchError, MonitorError
from monitor.review.sampling import DEFAULT_PRECISION, Plan, plan_sample, random_queue, uncertain_queue
from monitor.sources.base import ImageRef
from reports.audited import audited_rates
from storage import judgments as store

if TYPE_CHECKING:
    from monitor.sources.readers import Readers

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 64 * 1024 * 1024
UNCERTAIN_LIMIT = 2000
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


class ReviewInputError(MonitorError):
    """A verdict the session cannot store (a photo outside the queue, a brand the model does not know)."""


def local_path(uri: str) -> Path | None:
    """The file a stored photo's uri names, when it is a local path or file:// URI (else None)."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "" or (len(parts.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        return Path(uri)
    return None


def _local_bytes(path: Path) -> bytes | None:
    if not path.is_file() or path.stat().st_size > MAX_PHOTO_BYTES:
        return None
    return path.read_bytes()


def full_photo(row: dict[str, Any], readers: Readers | None = None) -> tuple[bytes, str] | None:
    """The stored photo's own bytes and content type, while its uri still gives the bytes that were stored.

    With `readers` the photo is read the way its source reads it (http(s) through the source's fetcher,
    with its timeouts, size limit and address policy; files inside its folder); without, only local files.
    Bytes that no longer match the stored sha256 are another photo now: None (the page shows the thumbnail).
    """
    from PIL import Image, UnidentifiedImageError

    uri = row.get("uri") or ""
    web = uri.startswith(("http://", "https://"))
    path = None if web else local_path(uri)
    if (web and readers is None) or (not web and path is None):
        return None
    try:
        if readers is not None:
            data = readers.get(row.get("source")).read(ImageRef(uri=uri, external_id=str(row.get("sha256"))))
        else:
            data = _local_bytes(path)
        if data is None or hashlib.sha256(data).hexdigest() != row.get("sha256"):
            return None
        with Image.open(io.BytesIO(data)) as image:
            kind = PHOTO_TYPES.get(image.format or "")
    except (FetchError, OSError, UnidentifiedImageError, ValueError):
        return None
    except Exception:  # a broken source costs this photo its full view only
        log.warning("review: reading %s failed", uri[:200], exc_info=True)
        return None
    return (data, kind) if kind else None


def may_be_readable(uri: str) -> bool:
    """Whether the page should ask for the full photo: a file still on disk, or an http(s) address (the
    server reads it on request and falls back to the thumbnail)."""
    if uri.startswith(("http://", "https://")):
        return True
    path = local_path(uri)
    try:
        return path is not None and path.is_file()
    except OSError:
        return False


class ReviewSession:
    """What the review app serves: the queue of one model version in one mode, and where verdicts go."""

    def __init__(
        self,
        db: Any,
        model_version_id: int | None = None,
        mode: str = "sample",
        seed: int = 0,
        precision: float = DEFAULT_PRECISION,
        judged_by: str = "analyst",
        readers: Readers | None = None,
    ):
        if mode not in store.MODES:
            raise ReviewInputError(f"unknown review mode {mode!r}")
        self.db, self.mode, self.seed, self.precision, self.judged_by = db, mode, seed, precision, judged_by
        self.readers = readers
        version_id = model_version_id if model_version_id is not None else store.newest_model_version(db)
        version = store.model_version_classes(db, version_id) if version_id is not None else None
        if version is None:
            raise ReviewInputError(
                "no model version to review: ingest photos first (`monitor run`)"
                if version_id is None
                else f"no model version with id {version_id}"
            )
        self.version_id, self.brands = int(version["id"]), list(version["classes"])
        self.thresholds = dict(version["thresholds"] or {})
        self.frame = store.sample_frame(db, self.version_id)
        self._lock = threading.Lock()
        self._targets: dict[str, int] = {}
        self.queue: list[Any] = []
        self._planned: tuple[Any, Plan] | None = None
        if mode == "sample":
            self.refresh()
        else:
            self.queue = uncertain_queue(self.frame, self.thresholds, UNCERTAIN_LIMIT)
            self.position = {p.image_id: i for i, p in enumerate(self.queue)}

    def refresh(self) -> Plan:
        """The plan now; in sample mode the queue grows when the audit so far asks for more photos."""
        plan = self.plan()
        if self.mode == "sample" and any(plan.target[s] > self._targets.get(s, 0) for s in plan.target):
            with self._lock:
                # Photos already queued keep their place (pages and links stay put); new ones go after them.
                old = self.queue
                queued = {p.image_id for p in old}
                self.queue = old + [p for p in random_queue(self.frame, plan, self.seed) if p.image_id not in queued]
                self._targets = dict(plan.target)
                self.position = {p.image_id: i for i, p in enumerate(self.queue)}
        return plan

    def plan(self) -> Plan:
        """How many judgments each stratum has and needs, from the audit so far."""
        rows = store.judgments(self.db, self.version_id, mode="sample")
        # The audit (a simulation) runs again only when the judgments changed since the last page.
        key = (len(rows), max((r["judged_at"] for r in rows), default=None))
        if self._planned is None or self._planned[0] != key:
            strata = {p.image_id: p.stratum for p in self.frame}
            judged = {r["image_id"]: strata[r["image_id"]] for r in rows if r["image_id"] in strata}
            audit = audited_rates(self.db, self.version_id, self.brands, seed=self.seed) if rows else None
            self._planned = (key, plan_sample(self.frame, judged, audit, self.precision))
        return self._planned[1]

    def _verdicts(self) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for row in store.judgments(self.db, self.version_id):
            entry = found.setdefault(row["image_id"], {"verdicts": {}, "by": None, "modes": set()})
            entry["verdicts"][row["brand"]] = bool(row["present"])
            entry["modes"].add(row["mode"])
            mode = "" if row["mode"] == self.mode else f" ({row['mode']} mode: judge again to count it here)"
            entry["by"] = (row["judged_by"] + mode, f"{row['judged_at']:%Y-%m-%d %H:%M:%S} UTC")
        return found

    def first_unjudged(self) -> int:
        """The queue position of the first photo not judged yet in this mode (0 when all are).

        In sample mode a photo judged only for active learning counts as not judged: skipping it would
        leave a hole in the random sample that depends on the model's uncertainty.
        """
        judged = self._verdicts()
        return next(
            (i for i, p in enumerate(self.queue) if self.mode not in judged.get(p.image_id, {}).get("modes", ())), 0
        )

    def items(self, at: int, count: int) -> list[dict[str, Any]]:
        """Queue items [at, at + count) with their photo row, detections and any stored verdicts."""
        judged = self._verdicts()
        items = []
        for position, entry in enumerate(self.queue[at : at + count], start=at):
            row = store.photo(self.db, entry.image_id) or {"id": entry.image_id}
            stored = judged.get(entry.image_id, {})
            items.append(
                {
                    "photo": row,
                    "position": position,
                    "stratum": entry.stratum,
                    "detected": entry.detected,
                    "verdicts": stored.get("verdicts", {}),
                    "judged_by": stored.get("by"),
                    "readable": may_be_readable(row.get("uri") or ""),
                }
            )
        return items

    def image(self, image_id: int, full: bool) -> tuple[bytes, str] | None:
        """A queued photo's thumbnail, or (full) the photo itself while readable, else its thumbnail."""
        if image_id not in self.position:
            return None
        row = store.photo(self.db, image_id)
        if row is None:
            return None
        found = full_photo(row, self.readers) if full else None
        if found is None and row.get("jpeg"):
            found = (row["jpeg"], "image/jpeg")
        return found

    def judge(self, image_id: int, present: list[str]) -> int:
        """Store one photo's verdict for every brand (ticked: present), committed at once; returns rows."""
        if image_id not in self.position:
            raise ReviewInputError(f"photo {image_id} is not in this review queue")
        unknown = sorted(set(present) - set(self.brands))
        if unknown:
            raise ReviewInputError(f"unknown brand(s): {', '.join(unknown)}")
        verdicts = [store.Verdict(image_id, brand, brand in present) for brand in self.brands]
        with self._lock:
            return store.save_judgments(self.db, self.version_id, verdicts, self.mode, self.judged_by)
