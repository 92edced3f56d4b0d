"""Delivering notifications: a Slack-compatible webhook POST and mail through SMTP; failures recorded, retried."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from monitor.errors import MonitorError
from monitor.notify_settings import MailSettings
from storage import alerts as store

log = logging.getLogger("monitor.delivery")
WEBHOOK_TIMEOUT = 10.0


class DeliveryError(MonitorError):
    """A webhook or mail server did not take a notification (the message never holds the URL or password)."""


@dataclass(frozen=True)
class Targets:
    """Where one notification goes."""

    webhook: str | None = None
    mail: MailSettings | None = None

    @property
    def channels(self) -> list[str]:
        return [name for name, target in (("webhook", self.webhook), ("mail", self.mail)) if target]


def post_webhook(url: str, text: str, timeout: float = WEBHOOK_TIMEOUT) -> None:
    """POST {"text": ...} as JSON (what Slack, Mattermost and Teams' Slack mode read); DeliveryError on failure."""
    import requests

    try:
        response = requests.post(url, json={"text": text}, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:  # the URL holds the secret: name only the kind of failure
        raise DeliveryError(f"webhook unreachable ({type(exc).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")


def send_mail(mail: MailSettings, subject: str, body: str) -> None:
    """Send one plain-text mail through the configured SMTP server; DeliveryError on failure."""
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, mail.sender, ", ".join(mail.to)
    message.set_content(body)
    try:
        if mail.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                mail.host, mail.port, timeout=mail.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
        with client:
            if mail.starttls:
                client.starttls(context=ssl.create_default_context())
            if mail.username:
                client.login(mail.username, mail.password or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        detail = str(exc).replace(mail.password, "***") if mail.password else str(exc)
        raise DeliveryError(f"mail via {mail.host}:{mail.port} failed: {type(exc).__name__}: {detail[:200]}") from None


def send(targets: Targets, channel: str, subject: str, text: str) -> None:
    """Deliver to one channel of `targets`."""
    if channel == "webhook" and targets.webhook:
        post_webhook(targets.webhook, text)
    elif channel == "mail" and targets.mail:
        send_mail(targets.mail, subject, text)
    else:
        raise DeliveryError(f"{channel}: no longer configured")


def deliver_due(
    db: Any,
    targets_for: Callable[[dict[str, Any]], Targets],
    retry_after: float,
    now: datetime | None = None,
    kind: str | None = None,
) -> int:
    """Try every notification with channels still to deliver; returns how many were fully delivered.

    A failing channel is recorded on the row and tried again after `retry_after`; the others still go."""
    done = 0
    for row in store.due(db, now, kind):
        targets = targets_for(row)
        delivered = [c for c in row["delivered"].split(",") if c]
        errors = []
        for channel in [c for c in row["channels"].split(",") if c and c not in delivered]:
            try:
                send(targets, channel, f"[monitor] {row['kind']}: {row['name']}", row["message"])
                delivered.append(channel)
            except DeliveryError as exc:
                errors.append(str(exc))
                log.warning("%s %r: %s (will retry)", row["kind"], row["name"], exc)
        store.mark_attempt(db, row["id"], delivered, "; ".join(errors) or None, timedelta(seconds=retry_after), now)
        done += not errors
    return done
