"""The configuration file: one pydantic model, validated once, passed explicitly."""

from __future__ import annotations

import math
import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from monitor.config_file import check_expansion, describe_problem, expand_env, read_yaml
from monitor.errors import ConfigError
from monitor.notify_settings import AlertSettings, ScheduledReport
from storage.campaign_spec import campaign_days, check_spec

DEFAULT_CONFIG = "config.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
MAX_DURATION_DAYS = 366  # longer waits are typos (1e20d), and overflow the scheduler's clocks


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as `90`, `30s`, `5m`, `2h`, `1d`."""
    if isinstance(value, bool):
        raise ValueError("not a duration; use seconds or e.g. 30s, 5m, 2h, 1d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("not a duration; use seconds or e.g. 30s, 5m, 2h, 1d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds > MAX_DURATION_DAYS * 86400:
        raise ValueError(f"is longer than {MAX_DURATION_DAYS} days; use seconds or e.g. 30s, 5m, 2h, 1d")
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DatabaseSettings(_Strict):
    """Where detections are stored."""

    url: str = "sqlite:///monitor.db"
    echo: bool = False


class BrandSettings(_Strict):
    """The user's own brands and the competitors they track."""

    own: list[str] = Field(default_factory=list)
    competitors: list[str] = Field(default_factory=list)

    @property
    def tracked(self) -> list[str]:
        return list(dict.fromkeys([*self.own, *self.competitors]))


class CampaignSettings(_Strict):
    """A campaign window for one brand, compared with the weeks before and after."""

    name: str
    brand: str
    start: date
    end: date
    baseline_days: int | None = None
    after_days: int | None = None
    competitors: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checked(self) -> CampaignSettings:
        check_spec(self)  # the one campaign check (storage.campaign_spec), shared with the database and reports
        return self

    @property
    def length_days(self) -> int:
        return campaign_days(self.start, self.end)


class SourceSettings(BaseModel):
    """Fields every source has; each kind adds its own (checked by monitor.sources)."""

    model_config = ConfigDict(extra="allow")

    name: str
    kind: str
    preset: str | None = None  # flickr | mastodon | reddit | youtube | wordpress (monitor.sources.presets)
    interval: float = 300.0
    enabled: bool = True
    allow_private: bool = False
    allow_null_island: bool = False  # true: a place of exactly 0,0 is real (else it means "no place")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        from monitor.sources.presets import apply_preset  # plain data; imports nothing of ours

        return apply_preset(data) if isinstance(data, dict) else data

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> float:
        return parse_duration(value)

    @property
    def options(self) -> dict[str, Any]:
        """The kind-specific fields."""
        return dict(self.model_extra or {})


class TilingSettings(_Strict):
    """Small-logo scoring: the whole photo plus overlapping tiles, max over them (see classifier.tiling).

    `auto` (the default): `monitor train` trains on the tiles (feature windows unless `mode` says crops) and
    everything that scores photos scores them as the bundle was trained (monitor.model.configured_tiling)."""

    enabled: bool | Literal["auto"] = "auto"
    grid: int = Field(default=3, ge=2, le=4)
    overlap: float = Field(default=0.25, ge=0.0, lt=0.9)
    mode: Literal["crops", "feature_windows"] = "feature_windows"
    scale: float = Field(default=1.5, ge=1.0, le=4.0)

    @field_validator("enabled", mode="before")
    @classmethod
    def _auto_or_bool(cls, value: Any) -> Any:
        if value == "auto":
            return value
        try:  # what pydantic reads as a bool (true, no, 1, ...), e.g. from ${VARIABLE}
            return TypeAdapter(bool).validate_python(value)
        except ValidationError:
            raise ValueError(f"should be auto, true or false (got {value!r})") from None


class AugmentationSettings(_Strict):
    """Probabilities of each albumentations transform used when training."""

    views: int = Field(default=4, ge=1, le=64)
    seed: int = 0
    random_resized_crop: float = Field(default=0.7, ge=0, le=1)
    horizontal_flip: float = Field(default=0.5, ge=0, le=1)
    color_jitter: float = Field(default=0.5, ge=0, le=1)
    brightness_contrast: float = Field(default=0.3, ge=0, le=1)
    channel_dropout: float = Field(default=0.05, ge=0, le=1)
    blur: float = Field(default=0.1, ge=0, le=1)
    perspective: float = Field(default=0.2, ge=0, le=1)


class ClassifierSettings(_Strict):
    """Which model bundle tags photos, and how models are trained."""

    model: Path = Path("models/current")
    backbone: str = "inception_v3"
    weights: str = "imagenet"
    input_size: int | None = Field(default=None, ge=32, le=1024)
    batch_size: int = Field(default=32, ge=1, le=1024)
    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    epochs: int = Field(default=30, ge=1)
    tiling: TilingSettings = Field(default_factory=TilingSettings)
    thresholds: dict[str, float] = Field(default_factory=dict)
    augmentation: AugmentationSettings = Field(default_factory=AugmentationSettings)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for brand, threshold in value.items():
            if not 0.0 < threshold < 1.0:
                raise ValueError(f"threshold for {brand!r} is {threshold}; it must be between 0 and 1")
        return value


class IngestSettings(_Strict):
    """Limits and dedupe rules for incoming photos."""

    batch_size: int = Field(default=32, ge=1, le=4096)
    max_bytes: int = Field(default=20_000_000, ge=1024)
    max_pixels: int = Field(default=60_000_000, ge=10_000)
    min_side: int = Field(default=32, ge=1)
    image_formats: list[Literal["jpeg", "png", "webp", "gif", "bmp", "tiff"]] = Field(
        default_factory=lambda: ["jpeg", "png", "webp", "gif", "bmp", "tiff"], min_length=1
    )
    max_decode_mb: int = Field(default=256, ge=16, le=65536)
    max_photo_attempts: int = Field(default=3, ge=1, le=100)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=20.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    refetch_attempts: int = Field(default=5, ge=1, le=50)
    refetch_after: float = Field(default=600.0, ge=0)
    phash_distance: int = Field(default=6, ge=0, le=64)
    thumbnail_size: int = Field(default=256, ge=32, le=1024)
    user_agent: str = "brand-exposure-monitor/0.1"

    @field_validator("refetch_after", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value)


class ExecutorSettings(_Strict):
    """Where batches run: in this process (local) or on Celery workers through a broker."""

    kind: Literal["local", "celery"] = "local"
    broker_url: str = "redis://127.0.0.1:6379/0"
    fetch_queue: str = Field(default="monitor.fetch", min_length=1)
    classify_queue: str = Field(default="monitor.classify", min_length=1)
    redeliver_after: float = 300.0
    visibility_timeout: float = 3600.0
    heartbeat_interval: float = 15.0
    max_attempts: int = Field(default=5, ge=1)

    @field_validator("redeliver_after", "visibility_timeout", "heartbeat_interval", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
            raise ValueError("must be a redis://... or amqp://... URL")
        return value


class PathSettings(_Strict):
    """Folders the program reads and writes, relative to the config file."""

    inbox: Path = Path("inbox")
    reports: Path = Path("reports")
    cache: Path = Path(".cache")
    models: Path = Path("models")


class Settings(_Strict):
    """The whole configuration file."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    brands: BrandSettings = Field(default_factory=BrandSettings)
    campaigns: list[CampaignSettings] = Field(default_factory=list)
    sources: list[SourceSettings] = Field(default_factory=list)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    paths: PathSettings = Field(default_factory=PathSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)  # monitor.notify_settings
    reports: list[ScheduledReport] = Field(default_factory=list)  # written by `monitor run`
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("sources", "campaigns", "reports")
    @classmethod
    def _unique_names(cls, items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"name {item.name!r} is used twice; names must be unique")
            seen.add(item.name)
        return items

    def campaign(self, name: str) -> CampaignSettings:
        """The campaign with this name, or a ConfigError listing the known ones."""
        for campaign in self.campaigns:
            if campaign.name == name:
                return campaign
        known = ", ".join(c.name for c in self.campaigns) or "none defined"
        raise ConfigError(f"no campaign named {name!r} in the config (known: {known})")

    def source(self, name: str) -> SourceSettings:
        """The source with this name, or a ConfigError listing the known ones."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none defined"
        raise ConfigError(f"no source named {name!r} in the config (known: {known})")


def _resolve(path: Path, base: Path) -> Path:
    path = Path(os.path.expanduser(str(path)))
    return path if path.is_absolute() else (base / path).resolve()


def _resolve_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        rest = url[len(prefix) :]
        if rest and not rest.startswith(":"):
            return prefix + str(_resolve(Path(rest), base))
    return url


def parse_settings(
    data: Any, origin: str = "<config>", base: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Validate already-parsed YAML data; paths resolve against `base`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys, not {type(data).__name__}")
    check_expansion(data, origin)
    data = expand_env(data, "", dict(os.environ) if environ is None else environ, origin)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{origin}: {describe_problem(first, Settings)}{suffix}") from None
    from monitor.sources import validate_source_options  # kinds live with their modules

    for index, source in enumerate(settings.sources):
        validate_source_options(source, f"{origin}: sources[{index}]")
    base = base or Path.cwd()
    settings.database.url = _resolve_sqlite(settings.database.url, base)
    settings.classifier.model = _resolve(settings.classifier.model, base)
    for field in PathSettings.model_fields:
        setattr(settings.paths, field, _resolve(getattr(settings.paths, field), base))
    return settings


def config_path(explicit: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """The config file to use: the explicit one, else $MONITOR_CONFIG, else ./config.yaml."""
    environ = dict(os.environ) if environ is None else environ
    if explicit is not None:
        return Path(explicit)
    return Path(environ.get("MONITOR_CONFIG") or DEFAULT_CONFIG)


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read, expand and validate a config file; every problem is a one-line ConfigError."""
    path = config_path(path, environ)
    data = read_yaml(path)
    settings = parse_settings(data, str(path), path.resolve().parent, environ)
    settings.config_path = path.resolve()
    return settings
