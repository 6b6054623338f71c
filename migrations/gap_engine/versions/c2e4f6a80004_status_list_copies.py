"""status list copies and received credentials' status entries: the sweep goes list by list

Revision ID: c2e4f6a80004
Revises: c2e4f6a80003
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e4f6a80004"
down_revision: str | None = "c2e4f6a80003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("received_credentials", schema=None) as batch_op:
        # NULL: the sweep reads the credential's credentialStatus at its next round.
        batch_op.add_column(sa.Column("status_path", sa.String(length=16), nullable=True))
    op.create_table(
        "received_status_entries",
        sa.Column("received_credential_id", sa.Uuid(), nullable=False),
        sa.Column("list_url", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=True),
        sa.Column("list_index", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["received_credential_id"], ["received_credentials.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("received_status_entries", schema=None) as batch_op:
        batch_op.create_index("ix_received_status_entries_list_url", ["list_url"], unique=False)
        batch_op.create_index(batch_op.f("ix_received_status_entries_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_received_status_entries_received_credential_id"), ["received_credential_id"], unique=False
        )
    op.create_table(
        "status_list_copies",
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("issuer_id", sa.String(length=500), nullable=True),
        sa.Column("believed", sa.Boolean(), nullable=False),
        sa.Column("status_purpose", sa.String(length=20), nullable=True),
        sa.Column("encoded_list", sa.Text(), nullable=True),
        sa.Column("revoked", sa.JSON(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.Column("unreachable_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("url"),
    )


def downgrade() -> None:
    op.drop_table("status_list_copies")
    with op.batch_alter_table("received_status_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_received_status_entries_received_credential_id"))
        batch_op.drop_index(batch_op.f("ix_received_status_entries_org_id"))
        batch_op.drop_index("ix_received_status_entries_list_url")
    op.drop_table("received_status_entries")
    with op.batch_alter_table("received_credentials", schema=None) as batch_op:
        batch_op.drop_column("status_path")
