"""`folder` source: photos in a local folder, with optional sidecar JSON or one CSV of metadata."""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from monitor.config import SourceSettings
from monitor.errors import FetchError, SourceError
from monitor.sources.base import ImageRef, Source, SourceContext, as_float, as_int, as_text
from monitor.sources.files import is_regular, read_regular
from monitor.sources.timeline import parse_time

log = logging.getLogger(__name__)
DEFAULT_PATTERNS = ["*.jpg", "*.jpeg", "*.png", "*.webp", "*.gif", "*.bmp", "*.tif", "*.tiff"]
SIDECAR_MAX_BYTES = 1_000_000  # a sidecar is a few fields of JSON
CSV_MAX_BYTES = 100_000_000
WAIT_LIMIT_S = 5.0  # a settle time up to this is waited out within the poll; a longer one defers to the next


class FolderOptions(BaseModel):
    """Fields of a `folder` source."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_PATTERNS))
    recursive: bool = True
    metadata_csv: Path | None = None
    # A file (or its sidecar) changed less than this many seconds ago is read only once it has stayed
    # unchanged that long, so a photo still being copied is not stored as a truncated one: a short settle
    # time is waited out within the poll, a longer one (> 5 s) leaves the file for the next poll.
    settle_seconds: float = Field(default=2.0, ge=0)
    follow_symlinks: bool = False  # also follow symlinks that lead out of the folder


@dataclass(frozen=True)
class _Stat:
    size: int
    mtime_ns: int


class FolderSource(Source):
    """Photos in a folder; files unchanged since the last committed poll are not read again."""

    kind: ClassVar[str] = "folder"
    Options: ClassVar[type[BaseModel]] = FolderOptions
    options: FolderOptions

    def __init__(self, settings: SourceSettings, options: FolderOptions, context: SourceContext):
        super().__init__(settings, options, context)
        path = Path(os.path.expanduser(str(options.path)))
        self.root = path if path.is_absolute() else Path(context.base_dir or Path.cwd()) / path
        self.real_root = Path(os.path.realpath(self.root))
        self.confine = None if options.follow_symlinks else self.real_root  # where files must resolve to
        self.patterns = [p.lower() for p in options.patterns]
        self.max_bytes = context.ingest.max_bytes
        cache = Path(context.cache_dir) if context.cache_dir else self.root / ".monitor-cache"
        self.state_path = cache / "folder-state" / f"{_safe(settings.name)}.sqlite"
        self._pending: dict[str, tuple[str, _Stat]] = {}

    # -- polling --------------------------------------------------------------------------
    def poll(self, cursor: dict[str, Any] | None) -> Iterator[ImageRef]:
        """Refs of files that are new or changed since the state that `cursor` names."""
        if not self.root.is_dir():
            raise SourceError(f"source {self.settings.name!r}: folder {self.root} does not exist", "missing_folder")
        token = (cursor or {}).get("state") or uuid.uuid4().hex
        known = self._load_state(token)
        csv_rows = self._csv_metadata()
        found = sorted(self._scan(), key=lambda item: (item[1].mtime_ns, item[0]))
        settle_ns = int(self.options.settle_seconds * 1e9)
        self._pending = {}
        waiting: list[tuple[str, _Stat]] = []
        for relative, stat in found:
            if known.get(relative) == (stat.size, stat.mtime_ns):
                continue
            if settle_ns and not self._settled(self.root / relative, stat, time.time_ns() - settle_ns):
                waiting.append((relative, stat))
                continue
            yield self._pend(relative, stat, token, csv_rows)
        if waiting and self.options.settle_seconds <= WAIT_LIMIT_S:
            yield from self._after_settling(waiting, token, csv_rows)
        elif waiting:
            log.debug(
                "source %s: %d file(s) changed too recently; left for the next poll", self.settings.name, len(waiting)
            )

    def _after_settling(
        self, waiting: list[tuple[str, _Stat]], token: str, csv_rows: dict[str, dict[str, Any]]
    ) -> Iterator[ImageRef]:
        """Wait (stoppably) until the fresh files are settle_seconds old; those unchanged by then are read."""
        settle_ns = int(self.options.settle_seconds * 1e9)
        newest = max(max(stat.mtime_ns, self._sidecar_mtime(self.root / rel)) for rel, stat in waiting)
        pause = max(0.0, (newest + settle_ns - time.time_ns()) / 1e9) + 0.05
        if self.context.stop is None:
            time.sleep(pause)
        elif self.context.stop.wait(pause):
            return  # stopping: the fresh files wait for the next run
        for relative, stat in waiting:
            path = self.root / relative
            try:
                now = os.stat(path)
            except OSError:
                continue
            if (now.st_size, now.st_mtime_ns) != (stat.size, stat.mtime_ns) or not self._settled(
                path, stat, time.time_ns() - settle_ns
            ):
                log.info("source %s: %s is still changing; left for the next poll", self.settings.name, relative)
                continue
            yield self._pend(relative, stat, token, csv_rows)

    def _pend(self, relative: str, stat: _Stat, token: str, csv_rows: dict[str, dict[str, Any]]) -> ImageRef:
        path = self.root / relative
        meta = csv_rows.get(relative) or csv_rows.get(Path(relative).name) or self._sidecar(path)
        self._pending[relative] = (token, stat)
        return _ref(path, relative, meta, {"state": token})

    def read(self, ref: ImageRef) -> bytes:
        """The file's bytes: a regular file (never a FIFO or device), inside the folder, under the size limit."""
        return read_regular(Path(ref.uri), self.max_bytes, self.confine)

    def committed(self, refs: Iterable[ImageRef]) -> None:
        """Remember the files of these refs as done (called after their batch is committed)."""
        rows = []
        for ref in refs:
            entry = self._pending.pop(ref.external_id, None)
            if entry:
                token, stat = entry
                rows.append((ref.external_id, stat.size, stat.mtime_ns, token))
        if not rows:
            return
        try:
            with closing(self._connect()) as conn, conn:
                conn.executemany("INSERT OR REPLACE INTO files(path, size, mtime_ns, token) VALUES (?, ?, ?, ?)", rows)
                conn.execute("DELETE FROM files WHERE token <> ?", (rows[0][3],))
        except (sqlite3.Error, OSError) as exc:  # only a shortcut: the next poll re-reads, sha256 dedupes
            log.warning("source %s: cannot update %s: %s", self.settings.name, self.state_path, exc)

    # -- helpers --------------------------------------------------------------------------
    @classmethod
    def _settled(cls, path: Path, stat: _Stat, before_ns: int) -> bool:
        """Whether the photo and its sidecar (if any) were last changed before `before_ns`."""
        return stat.mtime_ns <= before_ns and cls._sidecar_mtime(path) <= before_ns

    @staticmethod
    def _sidecar_mtime(path: Path) -> int:
        try:
            return path.with_name(path.name + ".json").stat().st_mtime_ns
        except OSError:
            return 0

    def _scan(self) -> Iterator[tuple[str, _Stat]]:
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as exc:
                log.warning("source %s: cannot list %s: %s", self.settings.name, folder, exc)
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # hidden files and partial uploads (.tmp-*)
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if self.options.recursive:
                            stack.append(Path(entry.path))
                        continue
                    lower = entry.name.lower()
                    if not any(fnmatch.fnmatchcase(lower, p) for p in self.patterns):
                        continue
                    # Regular files only (no FIFO, device or socket), symlinks only into the folder.
                    if not entry.is_file() or (entry.is_symlink() and not is_regular(Path(entry.path), self.confine)):
                        log.debug(
                            "source %s: %s skipped (not a regular file in the folder)", self.settings.name, entry.path
                        )
                        continue
                    stat = entry.stat()
                except OSError:
                    continue
                relative = Path(entry.path).relative_to(self.root).as_posix()
                yield relative, _Stat(stat.st_size, stat.st_mtime_ns)

    def _connect(self) -> sqlite3.Connection:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.state_path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, token TEXT)"
        )
        return conn

    def _load_state(self, token: str) -> dict[str, tuple[int, int]]:
        try:
            with closing(self._connect()) as conn:
                rows = conn.execute("SELECT path, size, mtime_ns FROM files WHERE token = ?", (token,))
                return {path: (size, mtime) for path, size, mtime in rows}
        except sqlite3.Error as exc:  # the state is only a shortcut; sha256 dedupe keeps us correct
            log.warning("source %s: ignoring unreadable state %s: %s", self.settings.name, self.state_path, exc)
            return {}

    def _sidecar(self, path: Path) -> dict[str, Any]:
        sidecar = path.with_name(path.name + ".json")
        if not sidecar.exists():
            return {}
        try:
            data = json.loads(read_regular(sidecar, SIDECAR_MAX_BYTES, self.confine).decode("utf-8"))
        except (FetchError, ValueError) as exc:
            log.warning("source %s: ignoring sidecar %s: %s", self.settings.name, sidecar, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _csv_metadata(self) -> dict[str, dict[str, Any]]:
        if not self.options.metadata_csv:
            return {}
        path = self.options.metadata_csv
        path = path if path.is_absolute() else self.root / path
        try:
            text = read_regular(path, CSV_MAX_BYTES).decode("utf-8")
            return {row["file"]: row for row in csv.DictReader(io.StringIO(text, newline="")) if row.get("file")}
        except (FetchError, UnicodeDecodeError, KeyError, csv.Error) as exc:
            raise SourceError(
                f"source {self.settings.name!r}: cannot read metadata_csv {path}: {exc}", "bad_metadata"
            ) from None


def _ref(path: Path, relative: str, meta: dict[str, Any], cursor: dict[str, Any]) -> ImageRef:
    return ImageRef(
        uri=str(path),
        external_id=relative,
        posted_at=parse_time(meta.get("posted_at")),
        latitude=as_float(meta.get("latitude")),
        longitude=as_float(meta.get("longitude")),
        place=as_text(meta.get("place")),
        caption=as_text(meta.get("caption")),
        author=as_text(meta.get("author")),
        reach=as_int(meta.get("reach")),
        cursor=cursor,
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "source"
