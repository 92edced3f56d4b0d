"""A bad value for a key that may hold a credential is named in the config error, never echoed."""

from __future__ import annotations

import pytest

from monitor.config import parse_settings
from monitor.config_file import describe_problem
from monitor.errors import ConfigError

FEED = "https://example.org/feed.json"
CASES = {
    "mail_username": (
        {"alerts": {"mail": {"host": "smtp", "to": ["a@b.c"], "username": 918273645}}},
        "alerts.mail.username",
        "918273645",
    ),
    "mail_password": (
        {"alerts": {"mail": {"host": "smtp", "to": ["a@b.c"], "password": 5550123}}},
        "alerts.mail.password",
        "5550123",
    ),
    "mail_host": ({"alerts": {"mail": {"host": 6660123, "to": ["a@b.c"]}}}, "alerts.mail.host", "6660123"),
    "alerts_webhook": (
        {"alerts": {"webhook": "ftp://hooks.example/T0/SECRETWEBHOOK"}},
        "alerts.webhook",
        "SECRETWEBHOOK",
    ),
    "report_webhook": (
        {"reports": [{"name": "weekly", "webhook": "ftp://hooks.example/SECRETREPORT"}]},
        "reports[0].webhook",
        "SECRETREPORT",
    ),
    "report_mail": (
        {"reports": [{"name": "weekly", "mail": {"host": "smtp", "to": ["a@b.c"], "sender": 7}}]},
        "reports[0].mail.sender",
        "(got 7)",
    ),
    "database_url": ({"database": {"url": 7770001}}, "database.url", "7770001"),
    "broker_url": (
        {"executor": {"broker_url": "http://bob:SECRETBROKER@broker:6379/0"}},
        "executor.broker_url",
        "SECRETBROKER",
    ),
    "source_header": (
        {"sources": [{"name": "f", "kind": "jsonfeed", "url": FEED, "headers": {"X-Custom": 8880001}}]},
        "headers",
        "8880001",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_credential_is_named_but_not_shown(case: str) -> None:
    data, where, secret = CASES[case]
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, environ={})
    message = str(caught.value)
    assert where in message
    assert secret not in message


@pytest.mark.parametrize(
    ("loc", "value"),
    [
        (("sources", 0, "options", "client_secret"), 4440001),  # a secret-looking name anywhere
        (("sources", 0, "options", "api_token"), "tok-4440002"),
        (("paths", "feed"), "https://carol@example.org/x"),  # a URL with a user in it, whatever the key
        (("paths", "feed"), "https://example.org/x?api_key=4440003"),  # or a secret query value
    ],
)
def test_secret_names_and_urls_with_credentials_are_hidden_under_any_key(loc: tuple, value: object) -> None:
    text = describe_problem({"type": "value_error", "loc": loc, "msg": "Value error, is not valid", "input": value})
    assert text.endswith(": is not valid")
    assert "4440" not in text and "carol" not in text


def test_an_ordinary_bad_value_is_still_shown() -> None:
    with pytest.raises(ConfigError, match=r"ingest\.batch_size: .* \(got 'lots'\)"):
        parse_settings({"ingest": {"batch_size": "lots"}}, environ={})
    text = describe_problem({"type": "value_error", "loc": ("paths", "feed"), "msg": "bad", "input": "https://e.org/x"})
    assert text == "paths.feed: bad (got 'https://e.org/x')"
