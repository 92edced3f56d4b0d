"""Image external ids and fetch-failure uris of any length: Text, unique and indexed through their sha256.

PostgreSQL cannot hold a text of a few KB in a btree index (signed CDN URLs are that long), so the
index on (source_id, external_id) and the unique key on (source_id, uri) move to hash columns,
filled here from the rows already stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 1000


def _fill(table: str, source: str, target: str) -> None:
    """target = hex sha256 of source (UTF-8) for every row: in SQL on PostgreSQL, in Python on SQLite."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(
            sa.text(
                f"UPDATE {table} SET {target} = encode(sha256(convert_to({source}, 'UTF8')), 'hex') "
                f"WHERE {source} IS NOT NULL"
            )
        )
        return
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, {source} FROM {table} WHERE id > :last AND {source} IS NOT NULL ORDER BY id LIMIT {_CHUNK}"
            ),
            {"last": last},
        ).all()
        if not rows:
            return
        bind.execute(
            sa.text(f"UPDATE {table} SET {target} = :digest WHERE id = :id"),
            [
                {"id": row[0], "digest": hashlib.sha256(row[1].encode("utf-8", "surrogatepass")).hexdigest()}
                for row in rows
            ],
        )
        last = rows[-1][0]


def upgrade() -> None:
    op.add_column("images", sa.Column("external_id_sha256", sa.String(length=64), nullable=True))
    op.add_column("fetch_failures", sa.Column("uri_sha256", sa.String(length=64), nullable=True))
    _fill("images", "external_id", "external_id_sha256")
    _fill("fetch_failures", "uri", "uri_sha256")
    op.drop_index("ix_images_source_external", table_name="images")
    with op.batch_alter_table("images") as batch:
        batch.alter_column("external_id", existing_type=sa.String(length=500), type_=sa.Text(), existing_nullable=True)
    op.create_index("ix_images_source_external", "images", ["source_id", "external_id_sha256"], unique=False)
    with op.batch_alter_table("fetch_failures") as batch:
        batch.alter_column("uri_sha256", existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint("uq_fetch_failure_source_uri", type_="unique")
        batch.create_unique_constraint("uq_fetch_failure_source_uri_sha256", ["source_id", "uri_sha256"])


def downgrade() -> None:
    # Identifiers longer than the old column are cut; a failure uri too long for the old unique index fails here.
    with op.batch_alter_table("fetch_failures") as batch:
        batch.drop_constraint("uq_fetch_failure_source_uri_sha256", type_="unique")
        batch.create_unique_constraint("uq_fetch_failure_source_uri", ["source_id", "uri"])
        batch.drop_column("uri_sha256")
    op.drop_index("ix_images_source_external", table_name="images")
    op.execute(sa.text("UPDATE images SET external_id = substr(external_id, 1, 500) WHERE length(external_id) > 500"))
    with op.batch_alter_table("images") as batch:
        batch.alter_column("external_id", existing_type=sa.Text(), type_=sa.String(length=500), existing_nullable=True)
        batch.drop_column("external_id_sha256")
    op.create_index("ix_images_source_external", "images", ["source_id", "external_id"], unique=False)
