"""One HTTP exchange to an address already resolved and checked: the connection goes to that address
(Host header and TLS name checks stay on the URL's host), and one deadline covers connect, response
headers and body; a stop event ends any wait within a quarter of a second."""

from __future__ import annotations

import errno
import http.client
import io
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass

_TICK = 0.25  # how often a blocked read looks at the deadline and the stop event


class Expired(Exception):
    """The request's deadline (or its idle read timeout) passed."""


class Stopped(Exception):
    """The stop event was set while the request waited."""


@dataclass
class Limits:
    """The clock of one exchange: an absolute deadline, the longest silence, and the stop event."""

    deadline: float  # time.monotonic() value
    idle: float  # seconds without a byte before giving up
    stop: threading.Event | None = None

    def left(self) -> float:
        """Seconds until the deadline; raises Stopped or Expired when it is time to give up."""
        if self.stop is not None and self.stop.is_set():
            raise Stopped()
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Expired()
        return left


class _GuardedReader(io.RawIOBase):
    """A socket's reading side that never blocks past the limits."""

    def __init__(self, sock: socket.socket, limits: Limits):
        super().__init__()
        self.sock = sock
        self.limits = limits

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        silent_until = time.monotonic() + self.limits.idle
        while True:
            left = min(self.limits.left(), silent_until - time.monotonic())
            if left <= 0:
                raise Expired()
            self.sock.settimeout(min(left, _TICK))
            try:
                return self.sock.recv_into(buffer)
            except (TimeoutError, ssl.SSLWantReadError):
                continue


class _GuardedSocket:
    """What http.client needs of a socket (sendall, makefile, close), under the exchange's limits."""

    def __init__(self, sock: socket.socket, limits: Limits):
        self.sock = sock
        self.limits = limits

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(min(self.limits.left(), self.limits.idle))
        self.sock.sendall(data)

    def makefile(self, mode: str, *args, **kwargs) -> io.BufferedReader:
        return io.BufferedReader(_GuardedReader(self.sock, self.limits))

    def close(self) -> None:
        """Nothing: http.client closes early on `Connection: close` while the body is still read; the
        caller closes the real socket when it is done."""


def connect(
    address: tuple, host: str, tls: bool, limits: Limits, connect_timeout: float, context: ssl.SSLContext | None = None
) -> socket.socket:
    """A connected socket to `address` (a getaddrinfo sockaddr), TLS-wrapped for `host` when asked."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        connect_by = time.monotonic() + min(connect_timeout, limits.left())
        sock.setblocking(False)
        code = sock.connect_ex(address)
        while code in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
            left = min(connect_by - time.monotonic(), limits.left())
            if left <= 0:
                raise Expired()
            _, ready, _ = select.select([], [sock], [], min(left, _TICK))
            if ready:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                break
        if code not in (0, errno.EISCONN):
            raise ConnectionError(code, f"{address[0]} port {address[1]}: {errno.errorcode.get(code, code)}")
        sock.setblocking(True)
        if tls:
            context = context or ssl.create_default_context()
            sock.settimeout(min(limits.left(), connect_timeout))
            sock = context.wrap_socket(sock, server_hostname=host)  # SNI and the certificate check use the name
        return sock
    except BaseException:
        sock.close()
        raise


def exchange(
    sock: socket.socket, host_header: str, target: str, headers: dict[str, str], limits: Limits
) -> http.client.HTTPResponse:
    """Send a GET for `target` on the connected socket and read the response's status and headers."""
    guarded = _GuardedSocket(sock, limits)
    conn = http.client.HTTPConnection(host_header)
    conn.sock = guarded  # already connected (to the pinned address); http.client never resolves the name
    conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host_header)
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders()
    return conn.getresponse()
