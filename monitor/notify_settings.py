"""The `alerts:` and `reports:` sections of the config: alert rules, scheduled reports, webhook and mail."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CRON_FIELDS = 5  # minute hour day month weekday, as crontab reads them


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _seconds(value: Any) -> float:
    from monitor.config import parse_duration  # lazy: monitor.config imports this module

    return parse_duration(value)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_trigger(line: str) -> Any:
    """An APScheduler CronTrigger (UTC) that reads the weekday field as crontab does: 0 and 7 are Sunday.

    (APScheduler 3's from_crontab counts 0 as Monday, so '0 7 * * 1' would fire on Tuesdays.)"""
    import re

    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = line.split()
    named = re.sub(
        r"(?<![/\d])(\d+)", lambda m: _WEEKDAYS[int(m.group(1))] if int(m.group(1)) < 8 else m.group(1), weekday
    )
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=named, timezone="UTC")


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class MailSettings(_Strict):
    """SMTP delivery; put the password in the environment: password: ${SMTP_PASSWORD}."""

    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False  # upgrade the connection with STARTTLS before logging in
    ssl: bool = False  # connect with TLS from the start (port 465)
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    sender: str = Field(default="monitor@localhost", min_length=3)
    to: list[str] = Field(min_length=1)
    timeout: float = Field(default=10.0, gt=0, le=300)


class AlertRule(_Strict):
    """Alert when a brand's rate per photo over the last `days` differs from the trailing weeks by `ratio`."""

    name: str = Field(min_length=1, max_length=200)
    brand: str = "*"  # a brand name, or * for every brand the model detects
    direction: Literal["rise", "drop"] = "rise"
    ratio: float = Field(default=2.0, gt=1.0, le=1000.0)  # rise: rate >= ratio x trailing; drop: <= trailing / ratio
    min_count: int = Field(default=10, ge=1)  # photos needed (rise: now; drop: expected from the trailing rate)
    days: int = Field(default=1, ge=1, le=31)  # the recent window, in UTC days up to today
    trailing_weeks: int = Field(default=4, ge=1, le=52)  # the comparison window before it
    cooldown: float = 86400.0  # after an alert for a brand, stay quiet this long (seconds or 6h, 1d)

    @field_validator("cooldown", mode="before")
    @classmethod
    def _cooldown(cls, value: Any) -> float:
        return _seconds(value)


class AlertSettings(_Strict):
    """Alert rules, checked after each poll, and where alerts go."""

    rules: list[AlertRule] = Field(default_factory=list)
    webhook: str | None = Field(default=None, repr=False)  # Slack-compatible incoming webhook URL (a secret)
    mail: MailSettings | None = None
    retry_after: float = 300.0  # a failed delivery is tried again after this long
    include_reposts: bool = False

    @field_validator("retry_after", mode="before")
    @classmethod
    def _retry(cls, value: Any) -> float:
        return _seconds(value)

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[AlertRule]) -> list[AlertRule]:
        names = [r.name for r in rules]
        if len(names) != len(set(names)):
            raise ValueError(f"rule names must be unique (got {', '.join(sorted(names))})")
        return rules


class ScheduledReport(_Strict):
    """A report the daemon writes on a schedule: a campaign's, or the last `days` days'."""

    name: str = Field(min_length=1, max_length=200)
    campaign: str | None = None  # a campaign name; without it, a period report over the last `days`
    days: int = Field(default=7, ge=1, le=366)  # period reports: the full UTC days before the run
    formats: list[Literal["csv", "html"]] = Field(default_factory=lambda: ["html", "csv"], min_length=1)
    schedule: str = "0 7 * * 1"  # crontab: minute hour day month weekday (UTC); default Mondays 07:00
    out: str = "reports/scheduled"  # output folder; each run writes into out/NAME/PERIOD
    excel: bool = False
    webhook: str | None = Field(default=None, repr=False)
    mail: MailSettings | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != CRON_FIELDS:
            raise ValueError("must be a crontab line of 5 fields: minute hour day month weekday (e.g. '0 7 * * 1')")
        try:
            cron_trigger(value)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"is not a valid crontab line: {exc}") from None
        return value

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return _http_url(value)

    @model_validator(mode="after")
    def _kind(self) -> ScheduledReport:
        if self.campaign is not None and not self.campaign.strip():
            raise ValueError("campaign: give a campaign name or leave the key out")
        return self
