"""monitor.fetch's policies against real servers on 127.0.0.1: headers kept to the source's origin, one deadline
per request, the checked address is the one connected to, allow_hosts ports, IPv4 inside IPv6, stop."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from ingest_helpers import FeedServer, Reply, jpeg
from monitor.addresses import blocked
from monitor.config import SourceSettings
from monitor.errors import FetchError
from monitor.fetch import Fetcher
from monitor.sources.base import ImageRef, SourceContext
from monitor.sources.registry import build_source


@pytest.fixture
def other():
    """A second server: another origin (same host, another port)."""
    srv = FeedServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def reason_of(call) -> str:
    with pytest.raises(FetchError) as info:
        call()
    return info.value.reason


def recording(seen: list, body: bytes):
    """A route that notes the Authorization header it got."""

    def route(handler):
        seen.append(handler.headers.get("Authorization"))
        return Reply(body=body, content_type="image/jpeg")

    return route


def json_source(url: str, **options) -> object:
    settings = SourceSettings(
        name="api",
        kind="json",
        url=url,
        allow_private=True,
        headers={"Authorization": "Bearer s3cret"},
        fields={"image": "img"},
        **options,
    )
    return build_source(settings, SourceContext())


def test_source_headers_go_to_its_own_origin_only_and_not_across_redirects(server, other):
    body = jpeg()
    mine, theirs = [], []
    server.routes["/a.jpg"] = recording(mine, body)
    other.routes["/b.jpg"] = recording(theirs, body)
    server.routes["/to-other"] = Reply(302, b"", None, headers={"Location": other.url("/b.jpg")})
    source = json_source(server.url("/api"))
    for uri in (server.url("/a.jpg"), other.url("/b.jpg"), server.url("/to-other")):
        assert source.read(ImageRef(uri=uri, external_id=uri)) == body
    assert mine == ["Bearer s3cret"] and theirs == [None, None]


def test_send_headers_to_names_more_hosts_with_their_port(server, other):
    body = jpeg()
    theirs = []
    other.routes["/b.jpg"] = recording(theirs, body)
    json_source(server.url("/api"), send_headers_to=["127.0.0.1"]).read(ImageRef(other.url("/b.jpg"), "b"))
    json_source(server.url("/api"), send_headers_to=[f"127.0.0.1:{other.port}"]).read(
        ImageRef(other.url("/b.jpg"), "b")
    )
    assert theirs == [None, "Bearer s3cret"]  # a bare host means its default ports only


class TrickleServer:
    """Sends a status line, then one header line every `pause` seconds, then a body."""

    def __init__(self, lines: int, pause: float):
        self.lines, self.pause, self.sent, self.finished = lines, pause, 0, False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n")
            for n in range(self.lines):
                time.sleep(self.pause)
                conn.sendall(b"X-Slow-%d: y\r\n" % n)
                self.sent += 1
            conn.sendall(b"Content-Length: 2\r\n\r\nok")
            self.finished = True
        except OSError:
            pass
        finally:
            conn.close()


def test_headers_trickling_past_the_deadline_time_out():
    # Every header line arrives well within the read timeout; the request as a whole must still end.
    trickle = TrickleServer(lines=60, pause=0.2)
    fetcher = Fetcher(connect_timeout=0.5, read_timeout=0.5, retries=0, allow_private=True)
    assert reason_of(lambda: fetcher.get(f"http://127.0.0.1:{trickle.port}/a.jpg")) == "timeout"
    assert not trickle.finished and trickle.sent < trickle.lines


def test_a_stop_request_ends_a_waiting_request(server):
    server.routes["/hang"] = Reply(body=b"late", content_type="image/jpeg", delay=20)
    stop = threading.Event()
    fetcher = Fetcher(connect_timeout=5, read_timeout=30, retries=3, allow_private=True, stop=stop)
    threading.Timer(0.3, stop.set).start()
    assert reason_of(lambda: fetcher.get(server.url("/hang"))) == "interrupted"
    assert server.hits["/hang"] == 1  # not retried after the stop


def test_the_checked_address_is_the_one_connected_to(server, monkeypatch):
    # DNS rebinding: the name is public when checked, then 127.0.0.1 when a second lookup would connect.
    server.routes["/a.jpg"] = Reply(body=jpeg(), content_type="image/jpeg")
    real = socket.getaddrinfo
    answers = iter(["1.1.1.1", "127.0.0.1", "127.0.0.1", "127.0.0.1"])

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            return real(next(answers), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    fetcher = Fetcher(connect_timeout=0.3, read_timeout=0.3, retries=0)
    assert reason_of(lambda: fetcher.get(f"http://rebind.example:{server.port}/a.jpg")) in (
        "connection_error",
        "timeout",
    )
    assert server.hits.get("/a.jpg", 0) == 0


def test_allow_hosts_means_the_default_ports_unless_a_port_is_given(server):
    server.routes["/a.jpg"] = Reply(body=jpeg(), content_type="image/jpeg")
    bare = Fetcher(retries=0, allow_hosts=["127.0.0.1"])
    assert reason_of(lambda: bare.get(server.url("/a.jpg"))) == "private_address"
    with_port = Fetcher(retries=0, allow_hosts=[f"127.0.0.1:{server.port}"])
    assert with_port.get(server.url("/a.jpg")).data
    assert server.hits["/a.jpg"] == 1


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "::127.0.0.1",
        "::10.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_ipv6_forms_of_internal_ipv4_addresses_are_refused(address):
    assert blocked(ipaddress.ip_address(address))
    fetcher = Fetcher(retries=0, connect_timeout=0.2)
    assert reason_of(lambda: fetcher.get(f"http://[{address}]/a.jpg")) == "private_address"


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_stay_public(address):
    assert not blocked(ipaddress.ip_address(address))
