"""The review web app: a small threaded HTTP server on 127.0.0.1 over the review session."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.errors import MonitorError
from monitor.review.page import GRID, render_page
from monitor.review.session import ReviewSession

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
COOKIE = "review_token"
CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "connect-src 'self'"
)


class ReviewError(MonitorError):
    """The review app cannot start as asked (address, token, model version)."""


def check_bind(host: str | None, token: str | None) -> str:
    """The interface to bind: 127.0.0.1 unless --host is given, and then only with a token."""
    if host is None:
        return "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not token:
        raise ReviewError(
            f"--host {host} opens the review app beyond this machine: give --token too "
            "(a long random secret; open the page with ?token=...)"
        )
    if token is not None and len(token) < 16:
        raise ReviewError("--token must be at least 16 characters")
    return host


class Handler(BaseHTTPRequestHandler):
    """Routes: / (the page), /photo/ID/thumb|full (images), POST /judge (one photo's verdicts)."""

    server: ReviewServer
    server_version = "monitor-review"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _authorised(self, query: dict[str, list[str]]) -> tuple[bool, str | None]:
        token = self.server.token
        if token is None:
            # Loopback without a token: refuse other Host names, so a web page cannot rebind its name to us.
            host = self.headers.get("Host", "").rsplit(":", 1)[0]
            return host in ("127.0.0.1", "localhost", "[::1]"), None
        jar = cookies.SimpleCookie(self.headers.get("Cookie", ""))
        offered = [
            self.headers.get("X-Review-Token", ""),
            query.get("token", [""])[0],
            jar[COOKIE].value if COOKIE in jar else "",
        ]
        ok = any(o and hmac.compare_digest(o.encode(), token.encode()) for o in offered)
        fresh = query.get("token", [""])[0]
        return ok, (fresh if ok and fresh else None)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        ok, fresh = self._authorised(query)
        if not ok:
            return self._send(403, b"forbidden: open the page with ?token=...", "text/plain")
        extra = {"Set-Cookie": f"{COOKIE}={fresh}; HttpOnly; SameSite=Strict; Path=/"} if fresh else None
        try:
            if parts.path == "/":
                return self._send(200, self._page(query).encode(), "text/html; charset=utf-8", extra)
            pieces = parts.path.strip("/").split("/")
            if len(pieces) == 3 and pieces[0] == "photo" and pieces[1].isdigit() and pieces[2] in ("thumb", "full"):
                found = self.server.session.image(int(pieces[1]), pieces[2] == "full")
                if found is None:
                    return self._send(404, b"not found", "text/plain")
                return self._send(200, found[0], found[1])
            return self._send(404, b"not found", "text/plain")
        except Exception:  # one bad request costs that request only
            log.exception("review page failed")
            return self._send(500, b"error", "text/plain")

    def _page(self, query: dict[str, list[str]]) -> str:
        session = self.server.session
        grid = query.get("view", ["one"])[0] == "grid"
        plan = session.refresh()
        try:
            at = max(int(query["at"][0]), 0) if "at" in query else session.first_unjudged()
        except ValueError:
            at = 0
        shown = GRID if grid else 1
        items = session.items(at, shown)
        return render_page(
            mode=session.mode,
            version=session.version_id,
            brands=session.brands,
            items=items,
            at=at,
            size=len(session.queue),
            grid=grid,
            plan=plan,
            token=self.server.token or "",
        )

    def do_POST(self) -> None:  # noqa: N802
        ok, _ = self._authorised({})
        if not ok:
            return self._json(403, {"error": "forbidden"})
        # A plain form from another site cannot set this header or this content type without CORS consent.
        if self.headers.get("X-Review") != "1" or not self.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            return self._json(400, {"error": "send JSON with the X-Review header"})
        if urlsplit(self.path).path != "/judge":
            return self._json(404, {"error": "not found"})
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return self._json(400, {"error": "bad body length"})
        try:
            body = json.loads(self.rfile.read(length))
            image_id, present = int(body["image_id"]), body["present"]
            if not isinstance(present, list) or not all(isinstance(b, str) for b in present):
                raise ValueError("present must be a list of brand names")
        except (ValueError, KeyError, TypeError) as exc:
            return self._json(400, {"error": f"bad request: {exc}"})
        try:
            written = self.server.session.judge(image_id, present)
        except MonitorError as exc:
            return self._json(400, {"error": str(exc)})
        except Exception:
            log.exception("storing a judgment failed")
            return self._json(500, {"error": "storing the judgment failed"})
        return self._json(200, {"ok": True, "stored": written})


class ReviewServer(ThreadingHTTPServer):
    """The HTTP server, holding the review session and the token (None on loopback without one)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], session: ReviewSession, token: str | None):
        self.session, self.token = session, token
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        """Where the page is."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def start_server(
    session: ReviewSession, host: str | None = None, port: int = 8765, token: str | None = None
) -> ReviewServer:
    """Bind (127.0.0.1 unless --host with a token) and serve in a background thread."""
    interface = check_bind(host, token)
    try:
        server = ReviewServer((interface, port), session, token)
    except OSError as exc:
        raise ReviewError(f"cannot listen on {interface}:{port}: {exc.strerror or exc}") from None
    threading.Thread(target=server.serve_forever, name="review-server", daemon=True).start()
    return server
