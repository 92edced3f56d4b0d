"""The address policy of HTTP fetching: URL targets, internal addresses refused, allow_hosts entries matched."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from monitor.errors import FetchError, FetchReason

DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True)
class Target:
    """One http(s) URL as fetched: scheme, host, port and the path sent."""

    url: str
    scheme: str
    host: str  # lower case, without brackets
    port: int
    path: str  # path and query, as sent


def parse_target(url: str) -> Target:
    """An http(s) URL as a Target; a FetchError (bad_url, bad_scheme) for anything else."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"{url}: malformed URL ({exc})", FetchReason.BAD_URL) from None
    if scheme not in DEFAULT_PORTS:
        raise FetchError(f"{url}: only http and https URLs are fetched", FetchReason.BAD_SCHEME)
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host", FetchReason.BAD_URL)
    # Spaces, control and non-ASCII characters are percent-encoded (as browsers do); existing %XX stay.
    path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_URL_SAFE, errors="replace")
    return Target(url, scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], path)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, IPv4-compatible, 6to4, NAT64), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is internal (private, loopback, link-local, reserved, multicast, ...)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return blocked(inner)
    return not ip.is_global or ip.is_multicast


def host_port(entry: str) -> tuple[str, int | None]:
    """An allow_hosts / send_headers_to entry as (host, port or None for the default ports)."""
    entry = entry.strip().lower()
    if entry.startswith("["):  # [v6] or [v6]:port
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def matches(entries: set[tuple[str, int | None]], target: Target) -> bool:
    """Whether a target's host and port are among host_port entries."""
    port = target.port if target.port != DEFAULT_PORTS[target.scheme] else None
    return (target.host, port) in entries or (port is None and (target.host, target.port) in entries)


def resolve(target: Target, allowed: bool) -> list[tuple]:
    """The addresses to connect to, each checked against the policy unless `allowed` (internal ones too)."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise FetchError(f"{target.url}: cannot resolve {target.host} ({exc})", FetchReason.DNS_ERROR) from None
    addresses = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if not allowed and blocked(ip):
            raise FetchError(
                f"{target.url}: {target.host} resolves to the non-public address {ip}; "
                f"set allow_private: true on the source to allow it",
                FetchReason.PRIVATE_ADDRESS,
            )
        addresses.append(sockaddr)
    if not addresses:
        raise FetchError(f"{target.url}: {target.host} has no address", FetchReason.DNS_ERROR)
    return addresses
