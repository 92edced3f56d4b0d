"""One redaction helper: userinfo passwords and secret query values hidden, the rest of a URL readable."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from storage.redaction import redact_text, redact_url

CASES = [
    (
        "postgresql+psycopg://bob:s3cr%40t@db:5432/monitor?sslmode=require&password=zz",
        "postgresql+psycopg://bob:***@db:5432/monitor?sslmode=require&password=***",
    ),
    (
        "https://api.example.com/v1/photos?page=2&API_KEY=abc&q=cola&apikey=d&Token=e&access_token=f&auth=g",
        "https://api.example.com/v1/photos?page=2&API_KEY=***&q=cola&apikey=***&Token=***&access_token=***&auth=***",
    ),
    (
        "https://cdn.example.net/a.jpg?Expires=1&X-Amz-Signature=f00&sig=1&Secret=2&key=3#access_token=qq",
        "https://cdn.example.net/a.jpg?Expires=1&X-Amz-Signature=***&sig=***&Secret=***&key=***#access_token=***",
    ),
    ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("amqp://guest:p@ss%2Fw@rabbit:5672//", "amqp://guest:***@rabbit:5672//"),
    ("sqlite:////var/lib/monitor.db", "sqlite:////var/lib/monitor.db"),
    ("sqlite:///:memory:", "sqlite:///:memory:"),
    ("https://example.org/feed.xml?monkey=1&keyword=cola", "https://example.org/feed.xml?monkey=1&keyword=cola"),
]


@pytest.mark.parametrize("url,shown", CASES)
def test_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_sqlalchemy_urls_and_free_text() -> None:
    assert redact_url(make_url("postgresql://a:b@h/d")) == "postgresql://a:***@h/d"
    assert redact_text("GET https://a.b/c?token=abc&page=1: 500, see http://u:p@h/x.") == (
        "GET https://a.b/c?token=***&page=1: 500, see http://u:***@h/x."
    )
    assert redact_text(None) is None
