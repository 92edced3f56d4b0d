"""The database schema: every table, typed with SQLAlchemy 2.0 `Mapped[]` columns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """A timestamp stored and returned as timezone-aware UTC on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite keeps text: store naive UTC so lexical order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


# Named constraints, so later migrations can alter them (SQLite batch mode needs the names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    """A watched image source and its poll status."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Image(Base):
    """One photo seen by the monitor, accepted or rejected; same bytes are one row."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    phash: Mapped[str | None] = mapped_column(String(32), index=True)
    uri: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)  # whole, however long (signed CDN URLs)
    external_id_sha256: Mapped[str | None] = mapped_column(String(64))  # what the index holds
    posted_at: Mapped[datetime]
    time_source: Mapped[str] = mapped_column(String(16), default="ingested")  # source|exif|ingested
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str | None] = mapped_column(String(300))
    caption: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(300))
    reach: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="accepted")  # accepted|rejected
    reject_reason: Mapped[str | None] = mapped_column(String(64))
    reject_detail: Mapped[str | None] = mapped_column(Text)
    repost_of_id: Mapped[int | None] = mapped_column(ForeignKey("images.id"), index=True)
    # An accepted photo's 64-bit phash as four 16-bit bands (NULL otherwise): a near copy shares a
    # band within distance // 4 bits; each band's index also holds the others, so the exact
    # distance is computed from the index alone (storage.reposts).
    phash_b0: Mapped[int | None] = mapped_column(Integer)
    phash_b1: Mapped[int | None] = mapped_column(Integer)
    phash_b2: Mapped[int | None] = mapped_column(Integer)
    phash_b3: Mapped[int | None] = mapped_column(Integer)

    source: Mapped[Source | None] = relationship()
    detections: Mapped[list[Detection]] = relationship(back_populates="image")

    __table_args__ = (
        Index("ix_images_posted_at_status", "posted_at", "status"),
        Index("ix_images_reach", "reach", "id"),  # reports: top posts walk photos from the most reach down
        Index("ix_images_source_external", "source_id", "external_id_sha256"),
        Index("ix_images_phash_band0", "phash_b0", "phash_b1", "phash_b2", "phash_b3"),
        Index("ix_images_phash_band1", "phash_b1", "phash_b0", "phash_b2", "phash_b3"),
        Index("ix_images_phash_band2", "phash_b2", "phash_b0", "phash_b1", "phash_b3"),
        Index("ix_images_phash_band3", "phash_b3", "phash_b0", "phash_b1", "phash_b2"),
        # Reports ask "any reposts in this window?": a small index holding reposts only answers it.
        Index(
            "ix_images_reposts_posted",
            "posted_at",
            "repost_of_id",
            sqlite_where=text("repost_of_id IS NOT NULL"),
            postgresql_where=text("repost_of_id IS NOT NULL"),
        ),
    )


class Thumbnail(Base):
    """A small JPEG of a photo with a detection, kept as evidence for reports."""

    __tablename__ = "thumbnails"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class ModelVersion(Base):
    """A classifier bundle that produced detections."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64), unique=True)
    bundle_path: Mapped[str] = mapped_column(Text)
    backbone: Mapped[str] = mapped_column(String(64))
    input_size: Mapped[int] = mapped_column(Integer)
    classes: Mapped[list[Any]] = mapped_column(JSON)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Detection(Base):
    """A brand seen in a photo by one model version; posted_at/source_id copied for fast windows."""

    __tablename__ = "detections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    brand: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    posted_at: Mapped[datetime]
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    box_x1: Mapped[float | None] = mapped_column(Float)  # coarse box, fractions of width/height
    box_y1: Mapped[float | None] = mapped_column(Float)
    box_x2: Mapped[float | None] = mapped_column(Float)
    box_y2: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    image: Mapped[Image] = relationship(back_populates="detections")

    __table_args__ = (
        UniqueConstraint("image_id", "brand", "model_version_id", name="uq_detection_image_brand_model"),
        Index("ix_detections_model_brand_posted", "model_version_id", "brand", "posted_at"),
        Index("ix_detections_posted_at", "posted_at"),
        # Reports: per-day brand counts read this index alone (no table rows, no join).
        Index("ix_detections_model_posted_brand_source", "model_version_id", "posted_at", "brand", "source_id"),
        # Reports: the most confident example photos per brand without sorting every detection.
        Index("ix_detections_model_brand_confidence", "model_version_id", "brand", "confidence"),
    )


# Rollups: key columns are NOT NULL (NULLs are distinct in unique keys), with sentinels the
# queries turn back into NULL: source_id 0, place '' and reject_reason ''.
NO_SOURCE_ID, NO_PLACE, NO_REASON = 0, "", ""


class DetectionRollup(Base):
    """Detections per model version x UTC day x brand x source x place x repost, kept as batches are stored."""

    __tablename__ = "detection_rollups"

    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    brand: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place: Mapped[str] = mapped_column(String(300), primary_key=True)
    repost: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    photos: Mapped[int] = mapped_column(BigInteger)
    reach: Mapped[int] = mapped_column(BigInteger)  # sum over the photos whose source gave one
    reach_known: Mapped[int] = mapped_column(BigInteger)


class ImageRollup(Base):
    """Photos per UTC day x source x place x status x reject reason x repost, kept as batches are stored."""

    __tablename__ = "image_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place: Mapped[str] = mapped_column(String(300), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    reject_reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    repost: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    images: Mapped[int] = mapped_column(BigInteger)
    reach: Mapped[int] = mapped_column(BigInteger)
    reach_known: Mapped[int] = mapped_column(BigInteger)
    latitude_sum: Mapped[float] = mapped_column(Float)
    longitude_sum: Mapped[float] = mapped_column(Float)
    located: Mapped[int] = mapped_column(BigInteger)


class Campaign(Base):
    """A marketing campaign: a brand, a date window and the competitors to compare against."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    brand: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    baseline_days: Mapped[int | None] = mapped_column(Integer)
    after_days: Mapped[int | None] = mapped_column(Integer)
    competitors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FetchFailure(Base):
    """A photo reference that could not be fetched at all (no bytes, so no image row)."""

    __tablename__ = "fetch_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    uri: Mapped[str] = mapped_column(Text)
    uri_sha256: Mapped[str] = mapped_column(String(64))  # unique per source: a btree cannot hold a long uri
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the source said of the photo, to fetch it again; None is SQL NULL (not JSON null), so queries can test it.
    ref: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)

    __table_args__ = (
        Index("ix_fetch_failures_source_last", "source_id", "last_at"),
        UniqueConstraint("source_id", "uri_sha256", name="uq_fetch_failure_source_uri_sha256"),
    )


# -- distributed executor: the outbox of batches, worker heartbeats, the broker's health -----------
class Batch(Base):
    """A batch of work written by the scheduler (the outbox) and done by a worker exactly once."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))  # None: reclassify across sources
    kind: Mapped[str] = mapped_column(String(16))  # ingest | reclassify
    refs: Mapped[list[Any]] = mapped_column(JSON)  # what to fetch, as the monitor encodes it
    model_path: Mapped[str | None] = mapped_column(Text)  # reclassify: the bundle to score with
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]  # last sent to the broker; None: not yet
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # counts, once done
    payload_sha256: Mapped[str | None] = mapped_column(String(64))  # of the classify message the fetch task sent

    __table_args__ = (Index("ix_batches_state_published", "state", "published_at"),)


class PhotoAttempt(Base):
    """How often a photo's bytes were in flight (decode + classify) when the process died (storage.attempts)."""

    __tablename__ = "photo_attempts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)


class Worker(Base):
    """A Celery worker's last heartbeat."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(Text)
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    tasks_done: Mapped[int] = mapped_column(Integer, default=0)


class BrokerStatus(Base):
    """Whether the scheduler could reach the broker, and since when it could not (one row)."""

    __tablename__ = "broker_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    reachable: Mapped[bool] = mapped_column(default=True)
    down_since: Mapped[datetime | None]
    last_checked: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)


class Judgment(Base):
    """An analyst's verdict on whether a brand really appears in a photo, for one model version's audit."""

    __tablename__ = "judgments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    brand: Mapped[str] = mapped_column(String(200))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    present: Mapped[bool] = mapped_column(Boolean)
    detected: Mapped[bool] = mapped_column(Boolean)  # did the model version detect the brand in this photo
    mode: Mapped[str] = mapped_column(String(16))  # sample (random, counts in audits) | uncertain (training only)
    stratum: Mapped[str] = mapped_column(String(200))  # the sample stratum: a brand, or "" for no detection
    judged_by: Mapped[str] = mapped_column(String(200))
    judged_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("image_id", "brand", "model_version_id", name="uq_judgment_image_brand_model"),
        Index("ix_judgments_model_brand", "model_version_id", "brand"),
    )


class Notification(Base):
    """An alert that fired or a scheduled report that was written, with its delivery; recorded once per period."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # alert | report
    name: Mapped[str] = mapped_column(String(200))  # the alert rule or the scheduled report
    brand: Mapped[str] = mapped_column(String(200), default="")  # "" for a report
    period: Mapped[str] = mapped_column(String(64))  # what it covers: first..last day (the once-only key)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # figures and file paths
    channels: Mapped[str] = mapped_column(String(64), default="")  # where it goes: webhook,mail
    delivered: Mapped[str] = mapped_column(String(64), default="")  # the channels that took it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("kind", "name", "brand", "period", name="uq_notification_once"),
        Index("ix_notifications_created_at", "created_at"),
    )
