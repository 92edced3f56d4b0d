"""Safe HTTP fetching: one deadline per request, retries with backoff, size and content-type limits, an
address policy checked on the very address connected to, and a source's headers kept to its own origin."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from monitor.addresses import DEFAULT_PORTS, Target, host_port, matches, parse_target, resolve
from monitor.config import IngestSettings
from monitor.errors import FetchError, FetchReason
from monitor.transport import Expired, Limits, Stopped, connect, exchange

IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "application/rdf+xml",
    "text/plain",
    "application/x-rss+xml",
)
JSON_TYPES = (
    "application/json",
    "text/json",
    "text/plain",
    "application/vnd.api+json",
    "application/ld+json",
    "application/feed+json",
)
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """A response body that passed every check."""

    url: str  # final URL after redirects
    content_type: str
    data: bytes


class Fetcher:
    """Fetches http(s) URLs under one source's limits; every problem is a FetchError with a reason."""

    def __init__(
        self,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        retries: int = 3,
        max_bytes: int = 20_000_000,
        allow_private: bool = False,
        allow_hosts: Iterable[str] = (),
        user_agent: str = "brand-exposure-monitor",
        headers: dict[str, str] | None = None,
        backoff_factor: float = 0.5,
        header_origin: str | None = None,
        send_headers_to: Iterable[str] = (),
        stop: threading.Event | None = None,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # One deadline per request, connect to the last body byte: a peer trickling headers or body under
        # the read timeout must still end some time.
        self.deadline = connect_timeout + 2 * read_timeout
        self.retries = retries
        self.backoff_factor = backoff_factor
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self.allow_hosts = {host_port(h) for h in allow_hosts}
        self.user_agent = user_agent
        self.headers = dict(headers or {})
        # The source's own headers (tokens) go to its URL's origin only, plus hosts named in send_headers_to.
        self.header_hosts = {host_port(h) for h in send_headers_to}
        self.header_origin = self._origin(header_origin) if header_origin else None
        self.stop = stop
        self.tls_context = tls_context

    @classmethod
    def from_settings(
        cls,
        ingest: IngestSettings,
        allow_private: bool = False,
        allow_hosts: Iterable[str] = (),
        headers: dict[str, str] | None = None,
        header_origin: str | None = None,
        send_headers_to: Iterable[str] = (),
        stop: threading.Event | None = None,
    ) -> Fetcher:
        """A fetcher with the limits of `settings.ingest` and one source's address and header policy."""
        return cls(
            connect_timeout=ingest.connect_timeout,
            read_timeout=ingest.read_timeout,
            retries=ingest.retries,
            max_bytes=ingest.max_bytes,
            allow_private=allow_private,
            allow_hosts=allow_hosts,
            user_agent=ingest.user_agent,
            headers=headers,
            header_origin=header_origin,
            send_headers_to=send_headers_to,
            stop=stop,
        )

    # -- policy (monitor.addresses) -------------------------------------------------------------
    @staticmethod
    def _origin(url: str) -> tuple[str, str, int] | None:
        try:
            target = parse_target(url)
        except FetchError:
            return None
        return target.scheme, target.host, target.port

    def _resolve(self, target: Target) -> list[tuple]:
        """The addresses to connect to, each checked against the policy (the one connected to is one of these)."""
        return resolve(target, self.allow_private or matches(self.allow_hosts, target))

    def check_url(self, url: str) -> None:
        """Refuse non-http(s) URLs and hosts that resolve to internal addresses."""
        self._resolve(parse_target(url))

    def _request_headers(self, target: Target) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate", "Connection": "close"}
        if self.headers and (
            (target.scheme, target.host, target.port) == self.header_origin or matches(self.header_hosts, target)
        ):
            headers.update(self.headers)
        return headers

    # -- fetching ----------------------------------------------------------------------------
    def get(self, url: str, accept: tuple[str, ...] = IMAGE_TYPES, max_bytes: int | None = None) -> Fetched:
        """GET `url`, following redirects (each hop re-checked), and return the checked body."""
        limit = max_bytes or self.max_bytes
        for _ in range(MAX_REDIRECTS + 1):
            target = parse_target(url)
            fetched = self._with_retries(target, accept, limit)
            if isinstance(fetched, Fetched):
                return fetched
            url = urljoin(url, fetched)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", FetchReason.TOO_MANY_REDIRECTS)

    def _with_retries(self, target: Target, accept: tuple[str, ...], limit: int) -> Fetched | str:
        """The body, or the Location of a redirect; passing failures before the response are tried again."""
        addresses = self._resolve(target)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                return self._once(target, addresses, accept, limit, retry_status=not last)
            except _Again as again:
                if last:
                    raise again.error from None
            delay = 0.0 if attempt == 0 else min(self.backoff_factor * 2**attempt, 30.0)
            if delay and self.stop is not None and self.stop.wait(delay):
                raise FetchError(f"{target.url}: stopped", FetchReason.INTERRUPTED)
            if delay and self.stop is None:
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _once(
        self, target: Target, addresses: list[tuple], accept: tuple[str, ...], limit: int, retry_status: bool
    ) -> Fetched | str:
        limits = Limits(time.monotonic() + self.deadline, self.read_timeout, self.stop)
        url = target.url
        sock = None
        try:
            try:
                sock = self._connect(target, addresses, limits)
                host_header = target.host if ":" not in target.host else f"[{target.host}]"
                if target.port != DEFAULT_PORTS[target.scheme]:
                    host_header += f":{target.port}"
                response = exchange(sock, host_header, target.path, self._request_headers(target), limits)
            except Expired:
                raise _Again(FetchError(f"{url}: timed out", FetchReason.TIMEOUT)) from None
            except ssl.SSLError as exc:
                raise FetchError(f"{url}: TLS failed ({_short(exc)})", FetchReason.CONNECTION_ERROR) from None
            except (OSError, http.client.HTTPException) as exc:
                raise _Again(
                    FetchError(f"{url}: cannot connect ({_short(exc)})", FetchReason.CONNECTION_ERROR)
                ) from None
            status = response.status
            if status in _REDIRECTS:
                return response.getheader("Location", "")
            if status in RETRY_STATUSES and retry_status:
                raise _Again(FetchError(f"{url}: HTTP {status}", FetchReason.http(status)))
            try:
                return self._body(url, response, accept, limit)
            except Expired:
                raise FetchError(f"{url}: took longer than {self.deadline:g} s", FetchReason.TIMEOUT) from None
            except (OSError, http.client.HTTPException, zlib.error) as exc:
                raise FetchError(f"{url}: body broke off ({_short(exc)})", FetchReason.CONNECTION_ERROR) from None
        except Stopped:
            raise FetchError(f"{url}: stopped", FetchReason.INTERRUPTED) from None
        finally:
            if sock is not None:
                sock.close()

    def _connect(self, target: Target, addresses: list[tuple], limits: Limits) -> socket.socket:
        error: BaseException | None = None
        for address in addresses:
            try:
                return connect(
                    address, target.host, target.scheme == "https", limits, self.connect_timeout, self.tls_context
                )
            except (ConnectionError, OSError) as exc:
                if isinstance(exc, ssl.SSLError):
                    raise
                error = exc
        raise error or ConnectionError(f"no address of {target.host} answers")

    def _body(self, url: str, response: http.client.HTTPResponse, accept: tuple[str, ...], limit: int) -> Fetched:
        status = response.status
        if status >= 400:
            raise FetchError(f"{url}: HTTP {status} {response.reason or ''}".rstrip(), FetchReason.http(status))
        content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type and accept and not content_type.startswith(accept):
            raise FetchError(f"{url}: unexpected content type {content_type!r}", FetchReason.BAD_CONTENT_TYPE)
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchError(f"{url}: body of {declared} bytes is over the limit of {limit}", FetchReason.TOO_LARGE)
        decoder = _decoder(url, response.getheader("Content-Encoding"))
        chunks, size = [], 0
        while True:
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            pieces = decoder(chunk, limit - size + 1) if decoder else [chunk]
            for piece in pieces:
                size += len(piece)
                if size > limit:
                    raise FetchError(f"{url}: body is over the limit of {limit} bytes", FetchReason.TOO_LARGE)
                chunks.append(piece)
        return Fetched(url=url, content_type=content_type, data=b"".join(chunks))

    def close(self) -> None:
        """Nothing pooled to close: every request has its own connection (pinned to its checked address)."""


class _Again(Exception):
    """A passing failure before the response was read: worth another attempt."""

    def __init__(self, error: FetchError):
        super().__init__(str(error))
        self.error = error


def _decoder(url: str, encoding: str | None):
    """A function (chunk, room) -> decoded pieces for a Content-Encoding, capped so a bomb cannot expand."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"{url}: unsupported content encoding {encoding!r}", FetchReason.BAD_CONTENT_TYPE)
    state = {
        "z": zlib.decompressobj(zlib.MAX_WBITS | 32 if encoding != "deflate" else zlib.MAX_WBITS),
        "raw": encoding == "deflate",
        "first": True,
    }

    def decode(chunk: bytes, room: int) -> list[bytes]:
        if state["first"] and state["raw"] and chunk and (chunk[0] & 0x0F) != 8:
            state["z"] = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate without the zlib header
        state["first"] = False
        out, data = [], chunk
        while data or state["z"].unconsumed_tail:
            piece = state["z"].decompress(data or state["z"].unconsumed_tail, max(room, 1))
            data = b""
            out.append(piece)
            room -= len(piece)
            if room <= 0 or not piece:
                break
        return out

    return decode


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."
