"""webhook delivery leases and per-subscription backoff: deliveries are claimed by a lease (owner and
expiry) instead of a row lock held across the HTTP call; a failing subscription is backed off whole

Revision ID: d4e8a2c61f30
Revises: b7c2e9d40a11
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4e8a2c61f30"
down_revision: str | None = "b7c2e9d40a11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as table:
        table.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.add_column(sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("backoff_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_webhook_deliveries_lease_owner", "webhook_deliveries", ["lease_owner"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_lease_owner", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_subscriptions") as table:
        table.drop_column("backoff_until")
        table.drop_column("consecutive_failures")
    with op.batch_alter_table("webhook_deliveries") as table:
        table.drop_column("lease_until")
        table.drop_column("lease_owner")
