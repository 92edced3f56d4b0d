"""Real-shaped saved feeds (tests/support/feeds/) served on 127.0.0.1 with a distinct photo behind every URL.

Each sample keeps its services' real hosts; serving rewrites `https://HOST/path` to `BASE/HOST/path` so every
URL the feed names (photos, avatars, emoji, tracking pixels, players) answers from the test server.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ingest_helpers import FeedServer, Reply, jpeg

FEEDS = Path(__file__).resolve().parent / "feeds"
_HOST_URL = re.compile(r"https?://(?!jsonfeed\.org/)((?:[a-z0-9-]+\.)+[a-z]{2,})(?=/)")  # not JSON Feed's version
_NOT_PHOTOS = {".swf": "application/x-shockwave-flash", ".mp4": "video/mp4", ".mp3": "audio/mpeg"}


def exif_photo(seed: int, gps: tuple[float, float] | None) -> bytes:
    """A distinct noise JPEG carrying EXIF GPS (as cameras write it: degrees, minutes, seconds)."""
    from PIL import Image

    image = Image.open(io.BytesIO(jpeg((96, 72), seed=seed)))
    exif = Image.Exif()
    if gps is not None:
        lat, lon = gps
        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: (abs(lat), 0.0, 0.0), 3: "E" if lon >= 0 else "W", 4: (abs(lon), 0.0, 0.0)}
        )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


class Samples:
    """Serves samples on one FeedServer; `local(url)` maps a sample's real URL to the served one."""

    def __init__(self, server: FeedServer):
        self.server = server
        self.base = server.url("")
        self.photos: dict[str, bytes] = {}  # served path -> bytes

    def local(self, url: str) -> str:
        """The served URL of a URL written in a sample."""
        return _HOST_URL.sub(lambda m: f"{self.base}/{m.group(1)}", url)

    def text(self, name: str) -> str:
        """The sample with its URLs pointing at the server, a photo registered behind each."""
        text = self.local((FEEDS / name).read_text(encoding="utf-8"))
        for path in re.findall(re.escape(self.base) + r"""(/[^\\"'\s<>?&]*)""", text):
            self._photo(path)
        return text

    def photo(self, url: str, data: bytes) -> None:
        """Serve these bytes for a sample URL (instead of the default noise photo)."""
        path = urlsplit(self.local(url)).path
        self.photos[path] = data
        self.server.routes[path] = Reply(body=data, content_type="image/jpeg")

    def _photo(self, path: str) -> None:
        if path in self.server.routes:
            return
        suffix = Path(path).suffix.lower()
        if suffix in _NOT_PHOTOS:
            self.server.routes[path] = Reply(body=b"\x00not a photo" * 50, content_type=_NOT_PHOTOS[suffix])
            return
        data = jpeg((96, 72), seed=1000 + len(self.photos))
        if suffix in (".png", ".pnj"):
            from PIL import Image

            buffer = io.BytesIO()
            Image.open(io.BytesIO(data)).save(buffer, "PNG")
            data = buffer.getvalue()
        self.photos[path] = data
        kind = "image/png" if suffix in (".png", ".pnj") else "image/jpeg"
        self.server.routes[path] = Reply(body=data, content_type=kind)

    def feed(self, path: str, name: str, content_type: str) -> str:
        """Serve one sample at `path`; returns its URL."""
        self.server.routes[path] = Reply(body=self.text(name).encode(), content_type=content_type)
        return self.server.url(path)

    def pages(self, path: str, param: str, pages: dict[str | None, str], content_type: str) -> str:
        """Serve samples at `path` chosen by one query parameter's value (None: absent); others get []."""
        bodies = {value: self.text(name).encode() for value, name in pages.items()}

        def answer(handler) -> Reply:
            value = parse_qs(urlsplit(handler.path).query).get(param, [None])[0]
            return Reply(body=bodies.get(value, b"[]"), content_type=content_type)

        route: Callable = answer
        self.server.routes[path] = route
        return self.server.url(path)
