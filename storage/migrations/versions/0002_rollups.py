"""Rollup tables of counts per brand x day x place x source x model version, backfilled from the raw rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from storage.rollups import rebuild_rollups

    op.create_table(
        "detection_rollups",
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("repost", sa.Boolean(), nullable=False),
        sa.Column("photos", sa.BigInteger(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("reach_known", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_detection_rollups_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint(
            "model_version_id", "day", "brand", "source_id", "place", "repost", name=op.f("pk_detection_rollups")
        ),
    )
    op.create_table(
        "image_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reject_reason", sa.String(length=64), nullable=False),
        sa.Column("repost", sa.Boolean(), nullable=False),
        sa.Column("images", sa.BigInteger(), nullable=False),
        sa.Column("reach", sa.BigInteger(), nullable=False),
        sa.Column("reach_known", sa.BigInteger(), nullable=False),
        sa.Column("latitude_sum", sa.Float(), nullable=False),
        sa.Column("longitude_sum", sa.Float(), nullable=False),
        sa.Column("located", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "source_id", "place", "status", "reject_reason", "repost", name=op.f("pk_image_rollups")
        ),
    )
    rebuild_rollups(op.get_bind())  # databases that already hold photos start with full rollups


def downgrade() -> None:
    op.drop_table("image_rollups")
    op.drop_table("detection_rollups")
