"""Judgments in and out: `review import FILE.csv` (sha256,brand,present) and `review export` (training folders)."""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import MonitorError
from monitor.review.session import full_photo
from storage import judgments as store

MAX_IMPORT_BYTES = 50 * 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TRUE, FALSE = ("1", "true", "yes", "y"), ("0", "false", "no", "n")
NONE_FOLDER = "none"

if TYPE_CHECKING:
    from monitor.sources.readers import Readers


class TransferError(MonitorError):
    """An import file or export folder that cannot be used at all."""


@dataclass
class ImportResult:
    """Rows stored, and every skipped line with its reason."""

    stored: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _present(text: str) -> bool | None:
    value = text.strip().lower()
    return True if value in TRUE else (False if value in FALSE else None)


def _parse(line: str) -> list[str] | None:
    """One physical line as CSV cells (None when blank); csv.Error when it does not parse.

    Lines are parsed one at a time: no cell of this file holds a line break, and an unbalanced quote
    must cost its own line only, not swallow the rest of the file.
    """
    line = line.removesuffix("\r")
    if not line.strip():
        return None
    return next(csv.reader([line], strict=True), None)


def _brand_error(brand: str, brands: list[str]) -> str:
    hint = difflib.get_close_matches(brand, brands, n=1)
    return f"unknown brand {brand[:80]!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")


def import_judgments(
    db: Any, path: Path, model_version_id: int | None = None, mode: str = "sample", judged_by: str = "import"
) -> ImportResult:
    """Store the verdicts of a CSV file; a bad line is reported with its number and skipped, the rest stored."""
    version_id = model_version_id if model_version_id is not None else store.newest_model_version(db)
    version = store.model_version_classes(db, version_id) if version_id is not None else None
    if version is None:
        raise TransferError(
            "no model version to attach the judgments to: ingest photos first"
            if version_id is None
            else f"no model version with id {version_id}"
        )
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise TransferError(f"{path}: larger than {MAX_IMPORT_BYTES // 2**20} MB")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TransferError(f"{path}: not UTF-8 text") from None
    lines = text.split("\n")
    try:
        header = [h.strip().lower() for h in (_parse(lines[0]) or [])]
    except csv.Error as exc:
        raise TransferError(f"{path}: line 1: {exc}") from None
    missing = [c for c in ("sha256", "brand", "present") if c not in header]
    if missing:
        raise TransferError(
            f"{path}: the first line must name the columns sha256,brand,present (missing {', '.join(missing)})"
        )
    where = {name: header.index(name) for name in ("sha256", "brand", "present")}
    brands = list(version["classes"])
    result, rows = ImportResult(), []
    for number, raw in enumerate(lines[1:], start=2):
        try:
            line = _parse(raw)
        except csv.Error as exc:
            result.skipped.append((number, f"cannot parse the line: {exc}"))
            continue
        if line is None or not any(cell.strip() for cell in line):
            continue
        if len(line) < len(header):
            result.skipped.append((number, f"expected {len(header)} columns, got {len(line)}"))
            continue
        sha, brand = line[where["sha256"]].strip().lower(), line[where["brand"]].strip()
        present = _present(line[where["present"]])
        if not SHA256.match(sha):
            result.skipped.append((number, "sha256 is not 64 hex digits"))
        elif brand not in brands:
            result.skipped.append((number, _brand_error(brand, brands)))
        elif present is None:
            result.skipped.append((number, "present must be 1/0 or true/false"))
        else:
            rows.append((number, sha, brand, present))
    ids = store.photos_by_sha256(db, [sha for _, sha, _, _ in rows])
    verdicts = {}
    for number, sha, brand, present in rows:
        if sha not in ids:
            result.skipped.append((number, f"no stored photo with sha256 {sha}"))
        else:
            verdicts[(ids[sha], brand)] = store.Verdict(ids[sha], brand, present)  # a later line wins
    result.stored = store.save_judgments(db, int(version["id"]), list(verdicts.values()), mode, judged_by)
    result.skipped.sort()
    return result


@dataclass
class ExportResult:
    """Photos written per folder, and photos left out because neither the file nor a thumbnail is left."""

    written: dict[str, int] = field(default_factory=dict)
    from_thumbnail: int = 0
    unreadable: list[str] = field(default_factory=list)


def _folder_name(brand: str) -> str:
    # Brand names become folder names: no path separators or dots that climb out of the export.
    cleaned = re.sub(r"[\\/\x00-\x1f]", "_", brand).strip().lstrip(".")
    return cleaned or "_"


def export_judgments(
    db: Any, out: Path, model_version_id: int | None = None, readers: Readers | None = None
) -> ExportResult:
    """Write every judged photo into out/<Brand>/ for each brand it shows, or out/none/ when judged logo-free.

    The newest verdict per photo and brand wins; a photo is `none` only when every brand of the model
    version it was judged for is judged absent. The full photo is copied while its uri still gives the stored
    bytes (read through `readers`, the sources' own readers, when given; else local files only), else its
    thumbnail.
    """
    latest: dict[int, dict[str, Any]] = {}
    classes: dict[int, list[str]] = {}
    for row in store.judgments(db, model_version_id):
        entry = latest.setdefault(
            row["image_id"],
            {"sha256": row["sha256"], "uri": row["uri"], "source": row["source"], "brands": {}, "versions": set()},
        )
        entry["brands"][row["brand"]] = bool(row["present"])  # rows come oldest first
        entry["versions"].add(row["model_version_id"])
    for entry in latest.values():
        for version_id in entry["versions"]:
            if version_id not in classes:
                classes[version_id] = list((store.model_version_classes(db, version_id) or {}).get("classes") or [])
    result = ExportResult()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TransferError(f"cannot create {out}: {exc.strerror or exc}") from None
    for image_id, entry in sorted(latest.items()):
        shown = sorted(b for b, present in entry["brands"].items() if present)
        known = set().union(*(classes[v] for v in entry["versions"]))
        if shown:
            folders = [_folder_name(b) for b in shown]
        elif known and known <= set(entry["brands"]):
            folders = [NONE_FOLDER]
        else:
            continue  # judged absent for some brands only: not known to be logo-free
        photo = full_photo(entry, readers)
        if photo is None:
            row = store.photo(db, image_id)
            if not row or not row.get("jpeg"):
                result.unreadable.append(entry["sha256"])
                continue
            photo = (row["jpeg"], "image/jpeg")
            result.from_thumbnail += 1
        suffix = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}[photo[1]]
        for folder in folders:
            target = out / folder
            target.mkdir(exist_ok=True)
            (target / f"{entry['sha256']}{suffix}").write_bytes(photo[0])
            result.written[folder] = result.written.get(folder, 0) + 1
    return result
