"""An index on images (reach, id): the reports' top posts walk photos from the most reach down.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_images_reach", "images", ["reach", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_images_reach", table_name="images")
