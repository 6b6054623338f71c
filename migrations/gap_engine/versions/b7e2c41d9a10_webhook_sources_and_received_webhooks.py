"""webhook sources and received webhooks

Revision ID: b7e2c41d9a10
Revises: 3679af519e97
Create Date: 2026-11-23 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e2c41d9a10"
down_revision: str | None = "3679af519e97"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_sources",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_sources_org_id"), ["org_id"], unique=False)

    op.create_table(
        "received_webhooks",
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=1000), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["webhook_sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "message_id", name="uq_received_webhooks_source_message"),
    )
    with op.batch_alter_table("received_webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_received_webhooks_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("received_webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_received_webhooks_org_id"))
    op.drop_table("received_webhooks")
    with op.batch_alter_table("webhook_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_sources_org_id"))
    op.drop_table("webhook_sources")
