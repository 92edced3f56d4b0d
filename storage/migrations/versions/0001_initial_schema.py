"""Initial schema: every table of storage/schema.py.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("baseline_days", sa.Integer(), nullable=True),
        sa.Column("after_days", sa.Integer(), nullable=True),
        sa.Column("competitors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("bundle_path", sa.Text(), nullable=False),
        sa.Column("backbone", sa.String(length=64), nullable=False),
        sa.Column("input_size", sa.Integer(), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("checksum", name=op.f("uq_model_versions_checksum")),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
    )
    op.create_table(
        "fetch_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_fetch_failures_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fetch_failures")),
        sa.UniqueConstraint("source_id", "uri", name="uq_fetch_failure_source_uri"),
    )
    op.create_index("ix_fetch_failures_source_last", "fetch_failures", ["source_id", "last_at"], unique=False)

    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("phash", sa.String(length=32), nullable=True),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(length=500), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_source", sa.String(length=16), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("place", sa.String(length=300), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=300), nullable=True),
        sa.Column("reach", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reject_reason", sa.String(length=64), nullable=True),
        sa.Column("reject_detail", sa.Text(), nullable=True),
        sa.Column("repost_of_id", sa.Integer(), nullable=True),
        sa.Column("phash_b0", sa.Integer(), nullable=True),
        sa.Column("phash_b1", sa.Integer(), nullable=True),
        sa.Column("phash_b2", sa.Integer(), nullable=True),
        sa.Column("phash_b3", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["repost_of_id"], ["images.id"], name=op.f("fk_images_repost_of_id_images")),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_images_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("sha256", name=op.f("uq_images_sha256")),
    )
    op.create_index(op.f("ix_images_phash"), "images", ["phash"], unique=False)
    op.create_index("ix_images_posted_at_status", "images", ["posted_at", "status"], unique=False)
    op.create_index(op.f("ix_images_repost_of_id"), "images", ["repost_of_id"], unique=False)
    op.create_index("ix_images_source_external", "images", ["source_id", "external_id"], unique=False)
    op.create_index("ix_images_phash_band0", "images", ["phash_b0", "phash_b1", "phash_b2", "phash_b3"], unique=False)
    op.create_index("ix_images_phash_band1", "images", ["phash_b1", "phash_b0", "phash_b2", "phash_b3"], unique=False)
    op.create_index("ix_images_phash_band2", "images", ["phash_b2", "phash_b0", "phash_b1", "phash_b3"], unique=False)
    op.create_index("ix_images_phash_band3", "images", ["phash_b3", "phash_b0", "phash_b1", "phash_b2"], unique=False)
    op.create_index(
        "ix_images_reposts_posted",
        "images",
        ["posted_at", "repost_of_id"],
        unique=False,
        sqlite_where=sa.text("repost_of_id IS NOT NULL"),
        postgresql_where=sa.text("repost_of_id IS NOT NULL"),
    )
    op.create_index(op.f("ix_images_source_id"), "images", ["source_id"], unique=False)

    op.create_table(
        "detections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("box_x1", sa.Float(), nullable=True),
        sa.Column("box_y1", sa.Float(), nullable=True),
        sa.Column("box_x2", sa.Float(), nullable=True),
        sa.Column("box_y2", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_detections_image_id_images"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["model_versions.id"], name=op.f("fk_detections_model_version_id_model_versions")
        ),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_detections_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detections")),
        sa.UniqueConstraint("image_id", "brand", "model_version_id", name="uq_detection_image_brand_model"),
    )
    op.create_index(
        "ix_detections_model_brand_posted", "detections", ["model_version_id", "brand", "posted_at"], unique=False
    )
    op.create_index("ix_detections_posted_at", "detections", ["posted_at"], unique=False)
    op.create_index(
        "ix_detections_model_posted_brand_source",
        "detections",
        ["model_version_id", "posted_at", "brand", "source_id"],
        unique=False,
    )
    op.create_index(
        "ix_detections_model_brand_confidence", "detections", ["model_version_id", "brand", "confidence"], unique=False
    )

    op.create_table(
        "thumbnails",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_thumbnails_image_id_images"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("image_id", name=op.f("pk_thumbnails")),
    )


def downgrade() -> None:
    op.drop_table("thumbnails")
    op.drop_index("ix_detections_posted_at", table_name="detections")
    op.drop_index("ix_detections_model_posted_brand_source", table_name="detections")
    op.drop_index("ix_detections_model_brand_confidence", table_name="detections")
    op.drop_index("ix_detections_model_brand_posted", table_name="detections")

    op.drop_table("detections")
    op.drop_index(op.f("ix_images_source_id"), table_name="images")
    op.drop_index("ix_images_source_external", table_name="images")
    op.drop_index("ix_images_phash_band0", table_name="images")
    op.drop_index("ix_images_phash_band1", table_name="images")
    op.drop_index("ix_images_phash_band2", table_name="images")
    op.drop_index("ix_images_phash_band3", table_name="images")
    op.drop_index("ix_images_reposts_posted", table_name="images")
    op.drop_index(op.f("ix_images_repost_of_id"), table_name="images")
    op.drop_index("ix_images_posted_at_status", table_name="images")
    op.drop_index(op.f("ix_images_phash"), table_name="images")

    op.drop_table("images")
    op.drop_index("ix_fetch_failures_source_last", table_name="fetch_failures")

    op.drop_table("fetch_failures")
    op.drop_table("sources")
    op.drop_table("model_versions")
    op.drop_table("campaigns")
