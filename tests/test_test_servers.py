"""The test-server probes (tests/support/services.py): a closed port, a stranger on the port, the skip summary."""

from __future__ import annotations

import socket
import threading

from services import SKIP_MARK, _broker, skipped_groups


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_closed_port_is_reported_as_not_answering() -> None:
    port = _closed_port()
    assert _broker(f"redis://127.0.0.1:{port}/0").startswith(f"nothing answers on 127.0.0.1:{port}")
    assert _broker(f"amqp://guest:guest@127.0.0.1:{port}//").startswith(f"nothing answers on 127.0.0.1:{port}")


def test_a_server_that_speaks_something_else_is_not_taken_for_the_broker() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                conn.recv(16)
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert _broker(f"redis://127.0.0.1:{port}/1") == f"127.0.0.1:{port} answers, but not as Redis"
        assert _broker(f"amqp://127.0.0.1:{port}//") == f"127.0.0.1:{port} answers, but not as RabbitMQ"
    finally:
        thread.join(timeout=10)
        listener.close()


class _Report:
    def __init__(self, reason: str) -> None:
        self.longrepr = ("tests/x.py", 1, reason)


def test_the_summary_groups_skips_by_server_and_ignores_other_skips() -> None:
    reports = [
        _Report(f"Skipped: Redis{SKIP_MARK}nothing answers"),
        _Report(f"Redis{SKIP_MARK}nothing answers"),
        _Report(f"PostgreSQL{SKIP_MARK}127.0.0.1:5432 does not answer"),
        _Report("real-data check: absent"),
    ]
    assert skipped_groups(reports) == {
        "Redis": (2, "nothing answers"),
        "PostgreSQL": (1, "127.0.0.1:5432 does not answer"),
    }
