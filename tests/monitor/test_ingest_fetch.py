"""monitor.fetch against a real HTTP server on 127.0.0.1: limits, retries, address policy."""

from __future__ import annotations

import pytest

from ingest_helpers import Reply, jpeg
from monitor.errors import FetchError
from monitor.fetch import FEED_TYPES, Fetcher


def fetcher(**overrides) -> Fetcher:
    options = dict(
        connect_timeout=2, read_timeout=0.5, retries=2, max_bytes=50_000, allow_private=True, backoff_factor=0.01
    )
    options.update(overrides)
    return Fetcher(**options)


def reason_of(call) -> str:
    with pytest.raises(FetchError) as info:
        call()
    return info.value.reason


def test_photo_is_fetched_with_its_content_type(server):
    body = jpeg()
    server.routes["/a.jpg"] = Reply(body=body, content_type="image/jpeg")
    got = fetcher().get(server.url("/a.jpg"))
    assert got.data == body and got.content_type == "image/jpeg"


def test_5xx_is_retried_then_succeeds(server):
    answers = iter(
        [
            Reply(503, b"busy", "text/plain"),
            Reply(500, b"oops", "text/plain"),
            Reply(body=b"ok-bytes", content_type="image/png"),
        ]
    )
    server.routes["/flaky"] = lambda _h: next(answers)
    assert fetcher().get(server.url("/flaky")).data == b"ok-bytes"
    assert server.hits["/flaky"] == 3


def test_persistent_500_gives_http_500_after_the_retries(server):
    server.routes["/down"] = Reply(500, b"down", "text/plain")
    assert reason_of(lambda: fetcher(retries=2).get(server.url("/down"))) == "http_500"
    assert server.hits["/down"] == 3


def test_404_is_not_retried(server):
    assert reason_of(lambda: fetcher().get(server.url("/missing.jpg"))) == "http_404"
    assert server.hits["/missing.jpg"] == 1


def test_server_that_never_answers_times_out(server):
    server.routes["/hang"] = Reply(body=b"late", content_type="image/jpeg", delay=2.0)
    assert reason_of(lambda: fetcher(retries=1).get(server.url("/hang"))) == "timeout"
    assert server.hits["/hang"] == 2


def test_body_trickling_past_the_deadline_times_out(server):
    # Each 100-byte piece arrives within the read timeout, but the whole body takes too long.
    server.routes["/slow"] = Reply(body=b"x" * 3000, content_type="image/jpeg", chunk_delay=0.15)
    assert (
        reason_of(lambda: fetcher(connect_timeout=0.2, read_timeout=0.5, max_bytes=10_000).get(server.url("/slow")))
        == "timeout"
    )


def test_oversized_body_is_refused_by_its_declared_length(server):
    server.routes["/big"] = Reply(body=b"x" * 60_000, content_type="image/jpeg")
    assert reason_of(lambda: fetcher().get(server.url("/big"))) == "too_large"


def test_oversized_body_without_length_is_cut_while_streaming(server):
    server.routes["/big-stream"] = Reply(body=b"x" * 200_000, content_type="image/jpeg", length=False)
    assert reason_of(lambda: fetcher().get(server.url("/big-stream"))) == "too_large"


@pytest.mark.parametrize("content_type", ["text/html", "application/json"])
def test_wrong_content_type_for_a_photo(server, content_type):
    server.routes["/page.jpg"] = Reply(body=b"<html></html>", content_type=content_type)
    assert reason_of(lambda: fetcher().get(server.url("/page.jpg"))) == "bad_content_type"


def test_feed_served_as_an_image_is_refused(server):
    server.routes["/feed.xml"] = Reply(body=jpeg(), content_type="image/jpeg")
    assert reason_of(lambda: fetcher().get(server.url("/feed.xml"), accept=FEED_TYPES)) == "bad_content_type"


def test_loopback_is_refused_without_allow_private(server):
    server.routes["/a.jpg"] = Reply(body=jpeg(), content_type="image/jpeg")
    assert reason_of(lambda: fetcher(allow_private=False).get(server.url("/a.jpg"))) == "private_address"
    assert server.hits.get("/a.jpg", 0) == 0  # refused before connecting


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/x.jpg",
        "http://localhost:{port}/a.jpg",
        "http://[::1]:{port}/a.jpg",
    ],
)
def test_redirect_to_a_private_address_is_refused_at_that_hop(server, target):
    # The trusted first hop is allowed by name; every later hop is checked again.
    target = target.format(port=server.port)
    server.routes["/a.jpg"] = Reply(body=jpeg(), content_type="image/jpeg")
    server.routes["/redirect"] = Reply(302, b"", "text/plain", headers={"Location": target})
    strict = fetcher(allow_private=False, allow_hosts=[f"127.0.0.1:{server.port}"])
    assert reason_of(lambda: strict.get(server.url("/redirect"))) == "private_address"
    assert server.hits.get("/a.jpg", 0) == 0


def test_redirects_are_followed_and_each_hop_scheme_checked(server):
    body = jpeg()
    server.routes["/a.jpg"] = Reply(body=body, content_type="image/jpeg")
    server.routes["/r1"] = Reply(301, b"", None, headers={"Location": "/r2"})
    server.routes["/r2"] = Reply(302, b"", None, headers={"Location": server.url("/a.jpg")})
    server.routes["/to-file"] = Reply(302, b"", None, headers={"Location": "file:///etc/passwd"})
    server.routes["/loop"] = Reply(302, b"", None, headers={"Location": "/loop"})
    got = fetcher().get(server.url("/r1"))
    assert got.data == body and got.url.endswith("/a.jpg")
    assert reason_of(lambda: fetcher().get(server.url("/to-file"))) == "bad_scheme"
    assert reason_of(lambda: fetcher().get(server.url("/loop"))) == "too_many_redirects"


@pytest.mark.parametrize(
    "url,reason",
    [("ftp://example.com/a.jpg", "bad_scheme"), ("file:///etc/passwd", "bad_scheme"), ("http:///nohost", "bad_url")],
)
def test_only_http_and_https_urls(url, reason):
    assert reason_of(lambda: fetcher().get(url)) == reason


def test_connection_refused_is_a_connection_error():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert reason_of(lambda: fetcher(retries=0).get(f"http://127.0.0.1:{port}/a.jpg")) == "connection_error"


def test_chunked_body_is_read(server):
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in [b"hello ", b"chunked ", b"world"]) + b"0\r\n\r\n"
    server.routes["/c"] = Reply(
        body=body, content_type="image/jpeg", headers={"Transfer-Encoding": "chunked"}, length=False
    )
    assert fetcher().get(server.url("/c")).data == b"hello chunked world"


def test_size_limit_counts_decompressed_bytes(server):
    import gzip

    server.routes["/gz"] = Reply(
        body=gzip.compress(b"x" * 100_000), content_type="image/jpeg", headers={"Content-Encoding": "gzip"}
    )
    assert reason_of(lambda: fetcher(max_bytes=50_000).get(server.url("/gz"))) == "too_large"
    assert len(fetcher(max_bytes=200_000).get(server.url("/gz")).data) == 100_000
