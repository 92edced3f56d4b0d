"""Reading local files a folder names without trusting them: regular files only (a FIFO, device or socket
named `photo.jpg` cannot block or be read), symlinks kept inside the folder unless allowed, sizes capped."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from monitor.errors import FetchError, FetchReason


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink resolved, lies inside `root` (itself resolved)."""
    real = os.path.realpath(path)
    return real == str(root) or real.startswith(str(root).rstrip(os.sep) + os.sep)


def is_regular(path: Path, root: Path | None = None) -> bool:
    """A regular file (after symlinks); with `root`, only when it also resolves inside it."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
    except OSError:
        return False
    return root is None or inside(path, root)


def read_regular(path: Path, limit: int, root: Path | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; FetchError (not_a_file, outside_folder, too_large,
    file_missing, read_error) otherwise. With `root`, the file must resolve inside it."""
    if root is not None and not inside(path, root):
        raise FetchError(
            f"{path}: a symlink out of the watched folder {root} (set follow_symlinks: true to follow it)",
            FetchReason.OUTSIDE_FOLDER,
        )
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FetchError(f"{path}: the file disappeared before it was read", FetchReason.FILE_MISSING) from None
    except OSError as exc:
        raise FetchError(f"{path}: cannot read ({exc.strerror or exc})", FetchReason.READ_ERROR) from None
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise FetchError(f"{path}: not a regular file", FetchReason.NOT_A_FILE)
            if info.st_size > limit:
                raise FetchError(f"{path}: {info.st_size} bytes is over the limit of {limit}", FetchReason.TOO_LARGE)
            data = handle.read(limit + 1)
        except OSError as exc:
            raise FetchError(f"{path}: cannot read ({exc.strerror or exc})", FetchReason.READ_ERROR) from None
    if len(data) > limit:
        raise FetchError(f"{path}: over the limit of {limit} bytes", FetchReason.TOO_LARGE)
    return data
