"""Safe HTTP fetching: timeouts, retries with backoff, size and content-type limits, address policy."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Iterable, Optional
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from monitor.errors import FetchError

IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
              "application/rdf+xml", "text/plain", "application/x-rss+xml")
JSON_TYPES = ("application/json", "text/json", "text/plain", "application/vnd.api+json",
              "application/ld+json", "application/feed+json")
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """A response body that passed every check."""

    url: str  # final URL after redirects
    content_type: str
    data: bytes


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return not ip.is_global or ip.is_multicast


class Fetcher:
    """Fetches http(s) URLs under one source's limits; every problem is a FetchError with a reason."""

    def __init__(self, connect_timeout: float = 5.0, read_timeout: float = 20.0, retries: int = 3,
                 max_bytes: int = 20_000_000, allow_private: bool = False,
                 allow_hosts: Iterable[str] = (), user_agent: str = "brand-exposure-monitor",
                 headers: Optional[dict[str, str]] = None, backoff_factor: float = 0.5):
        self.timeout = (connect_timeout, read_timeout)
        # A body trickling in under the read timeout must still end some time.
        self.deadline = connect_timeout + 2 * read_timeout
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self.allow_hosts = {h.lower() for h in allow_hosts}
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, redirect=0,
                      backoff_factor=backoff_factor, backoff_max=30,
                      status_forcelist=(500, 502, 503, 504), allowed_methods=("GET",),
                      raise_on_status=False, raise_on_redirect=False,
                      respect_retry_after_header=False)  # a Retry-After of hours must not stall a poll
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent
        self.session.headers.update(headers or {})

    @classmethod
    def from_settings(cls, ingest, allow_private: bool = False, allow_hosts: Iterable[str] = (),
                      headers: Optional[dict[str, str]] = None) -> "Fetcher":
        """A fetcher with the limits of `settings.ingest` and one source's address policy."""
        return cls(connect_timeout=ingest.connect_timeout, read_timeout=ingest.read_timeout,
                   retries=ingest.retries, max_bytes=ingest.max_bytes, allow_private=allow_private,
                   allow_hosts=allow_hosts, user_agent=ingest.user_agent, headers=headers)

    def check_url(self, url: str) -> None:
        """Refuse non-http(s) URLs and hosts that resolve to internal addresses."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"{url}: malformed URL ({exc})", "bad_url") from None
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https URLs are fetched", "bad_scheme")
        host = parts.hostname
        if not host:
            raise FetchError(f"{url}: the URL has no host", "bad_url")
        if self.allow_private or host.lower() in self.allow_hosts:
            return
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError(f"{url}: cannot resolve {host} ({exc})", "dns_error") from None
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            if _blocked(ip):
                raise FetchError(f"{url}: {host} resolves to the non-public address {ip}; "
                                 f"set allow_private: true on the source to allow it", "private_address")

    def get(self, url: str, accept: tuple[str, ...] = IMAGE_TYPES, max_bytes: Optional[int] = None) -> Fetched:
        """GET `url`, following redirects (each hop re-checked), and return the checked body."""
        limit = max_bytes or self.max_bytes
        for _ in range(MAX_REDIRECTS + 1):
            self.check_url(url)
            try:
                response = self.session.get(url, timeout=self.timeout, stream=True, allow_redirects=False)
            except requests.exceptions.RetryError as exc:
                raise FetchError(f"{url}: gave up after retries ({exc})", "retries_exhausted") from None
            except requests.exceptions.Timeout:
                raise FetchError(f"{url}: timed out", "timeout") from None
            except requests.exceptions.ConnectionError as exc:
                reason = "timeout" if "timed out" in str(exc).lower() else "connection_error"
                raise FetchError(f"{url}: cannot connect ({_short(exc)})", reason) from None
            except requests.exceptions.RequestException as exc:
                raise FetchError(f"{url}: request failed ({_short(exc)})", "request_error") from None
            with response:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    url = urljoin(url, location)
                    continue
                return self._body(url, response, accept, limit)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", "too_many_redirects")

    def _body(self, url: str, response: requests.Response, accept: tuple[str, ...], limit: int) -> Fetched:
        if response.status_code >= 400:
            raise FetchError(f"{url}: HTTP {response.status_code} {response.reason or ''}".rstrip(),
                             f"http_{response.status_code}")
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type and accept and not content_type.startswith(accept):
            raise FetchError(f"{url}: unexpected content type {content_type!r}", "bad_content_type")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchError(f"{url}: body of {declared} bytes is over the limit of {limit}", "too_large")
        started = time.monotonic()
        chunks, size = [], 0
        try:
            while True:
                # read1 returns what has arrived, so a trickling body cannot outlast the deadline.
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise FetchError(f"{url}: body is over the limit of {limit} bytes", "too_large")
                if time.monotonic() - started > self.deadline:
                    raise FetchError(f"{url}: body took longer than {self.deadline:g} s", "timeout")
                chunks.append(chunk)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            reason = "timeout" if "timed out" in str(exc).lower() else "connection_error"
            raise FetchError(f"{url}: body broke off ({_short(exc)})", reason) from None
        return Fetched(url=response.url or url, content_type=content_type, data=b"".join(chunks))

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "..."
