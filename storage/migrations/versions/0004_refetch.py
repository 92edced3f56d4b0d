"""Fetch failures keep the source's reference, so transient ones can be fetched again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fetch_failures") as batch:
        batch.add_column(sa.Column("ref", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fetch_failures") as batch:
        batch.drop_column("ref")
