"""Helpers for the ingestion tests: a real HTTP server on 127.0.0.1, photo makers, subprocess runs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BRANDS = ["acme", "globex"]


def run_once(settings, classifier, names=None, stop=None) -> list:
    """One real ingest pass (poll, fetch, check, classify, store) of the configured sources: their summaries."""
    from monitor.model import load_model
    from monitor.pipeline import ingest_once
    from storage.engine import open_database

    db = open_database(settings.database.url)
    try:
        return ingest_once(settings, names, stop=stop, db=db, model=load_model(settings, db, classifier))
    finally:
        db.dispose()


# -- a real HTTP server ---------------------------------------------------------------------------
@dataclass
class Reply:
    """What the server sends for one path; `chunks` with `delay` trickle a body slowly."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    chunk_delay: float = 0.0  # seconds between 100-byte pieces of the body
    length: bool = True  # send Content-Length


class FeedServer:
    """ThreadingHTTPServer on 127.0.0.1 with a route table and a hit counter per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path
                server.hits[path] = server.hits.get(path, 0) + 1
                route = server.routes.get(path) or server.routes.get(path.split("?", 1)[0])
                reply = route(self) if callable(route) else route
                if reply is None:
                    reply = Reply(404, b"not found", "text/plain")
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if reply.length:
                        self.send_header("Content-Length", str(len(reply.body)))
                    else:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    if reply.chunk_delay:
                        for start in range(0, len(reply.body), 100):
                            self.wfile.write(reply.body[start : start + 100])
                            self.wfile.flush()
                            time.sleep(reply.chunk_delay)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


# -- photos -------------------------------------------------------------------------------------
def jpeg(size=(96, 72), color=(200, 30, 30), seed: int | None = None, **save: Any) -> bytes:
    """JPEG bytes: a solid colour, or noise when `seed` is given (distinct perceptual hashes)."""
    from PIL import Image

    if seed is None:
        image = Image.new("RGB", size, color)
    else:
        import numpy as np

        rng = np.random.default_rng(seed)
        blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(blocks, "RGB").resize(size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **{"quality": 90, **save})
    return buffer.getvalue()


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# -- databases and subprocesses ---------------------------------------------------------------
def rows(url: str, sql: str, **params: Any) -> list[tuple]:
    """Run one read query on a database URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def monitor_cmd(config: Path, *args: str) -> list[str]:
    """argv for the real `monitor` CLI in a subprocess."""
    return [sys.executable, "-m", "monitor.cli", "--config", str(config), *args]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["COLUMNS"] = "200"  # rich tables on one line each
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_monitor(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        monitor_cmd(config, *args), cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=timeout
    )


# -- a corpus of bad and odd files ----------------------------------------------------------------
def _png_header_only(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def exif_jpeg(
    size=(80, 60), orientation: int | None = None, taken: str | None = None, gps: tuple[float, float] | None = None
) -> bytes:
    """A JPEG with EXIF orientation, DateTimeOriginal and GPS as asked."""
    from PIL import Image

    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: (abs(lat), 0.0, 0.0), 3: "E" if lon >= 0 else "W", 4: (abs(lon), 0.0, 0.0)}
        )
    image = Image.new("RGB", size, (20, 120, 220))
    image.paste((250, 250, 0), (0, 0, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def corpus() -> dict[str, tuple[bytes, str, str | None]]:
    """name -> (bytes, expected status, expected reject reason); built with min_side 16, max_pixels 1e6."""
    import numpy as np
    from PIL import Image

    def save(image, fmt: str, **options: Any) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        return buffer.getvalue()

    noise = jpeg((200, 150), seed=7)
    palette = Image.new("P", (64, 64), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (16, 16, 48, 48))
    animated = save(
        Image.new("RGB", (64, 64), (0, 0, 255)),
        "GIF",
        save_all=True,
        append_images=[Image.new("RGB", (64, 64), (255, 0, 0))],
        duration=100,
        loop=0,
    )
    rgba = Image.new("RGBA", (64, 64), (255, 0, 0, 0))
    rgba.paste((0, 128, 0, 255), (0, 0, 32, 64))
    return {
        "zero.jpg": (b"", "rejected", "empty"),
        "truncated.jpg": (noise[: len(noise) // 2], "rejected", "truncated"),
        "truncated.png": (png(Image.effect_noise((120, 120), 60))[:3000], "rejected", "truncated"),
        "html.jpg": (b"<!doctype html><html><body>Not found</body></html>", "rejected", "not_an_image"),
        "notes.png": (b"just some text, not a picture\n" * 20, "rejected", "not_an_image"),
        "random.jpg": (
            bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8)),
            "rejected",
            "not_an_image",
        ),
        "bomb.png": (save(Image.new("1", (3000, 3000)), "PNG"), "rejected", "too_large"),
        "huge-header.png": (_png_header_only(100_000, 100_000), "rejected", "too_large"),
        "pixel.png": (png(Image.new("RGB", (1, 1), (9, 9, 9))), "rejected", "too_small"),
        "sliver.jpg": (jpeg((500, 10)), "rejected", "too_small"),
        "cmyk.jpg": (save(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG"), "accepted", None),
        "sixteen.png": (png(Image.fromarray(np.full((48, 64), 32768, np.uint16))), "accepted", None),
        "animated.gif": (animated, "accepted", None),
        "rotated.jpg": (exif_jpeg((80, 60), orientation=6), "accepted", None),
        "palette-alpha.png": (save(palette, "PNG", transparency=0), "accepted", None),
        "photo.webp": (save(Image.new("RGB", (64, 48), (0, 200, 0)), "WEBP"), "accepted", None),
        "gray.jpg": (save(Image.new("L", (64, 64), 90), "JPEG"), "accepted", None),
        "alpha.png": (png(rgba), "accepted", None),
        "exif-time-gps.jpg": (exif_jpeg((64, 64), taken="2023:04:05 06:07:08", gps=(48.5, -2.25)), "accepted", None),
        "noise.jpg": (noise, "accepted", None),
        "photo.bmp": (save(Image.new("RGB", (40, 40), (1, 2, 250)), "BMP"), "accepted", None),
    }
