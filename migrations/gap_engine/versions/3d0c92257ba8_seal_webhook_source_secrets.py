"""seal webhook source secrets

Revision ID: 3d0c92257ba8
Revises: b7e2c41d9a10
Create Date: 2026-11-23 17:47:22.740974
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d0c92257ba8"
down_revision: str | None = "b7e2c41d9a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plaintext secret cannot be sealed here: the master key is the running service's, not the
    # migration's. Sources registered before this revision (development only: the receiver and this
    # change landed together) are removed and must be registered again.
    op.execute("DELETE FROM received_webhooks WHERE source_id IN (SELECT id FROM webhook_sources)")
    op.execute("DELETE FROM webhook_sources")
    with op.batch_alter_table("webhook_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_secret", sa.LargeBinary(), nullable=False))
        batch_op.drop_column("secret")

    # ### end Alembic commands ###


def downgrade() -> None:
    op.execute("DELETE FROM received_webhooks WHERE source_id IN (SELECT id FROM webhook_sources)")
    op.execute("DELETE FROM webhook_sources")
    with op.batch_alter_table("webhook_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.VARCHAR(length=200), nullable=False))
        batch_op.drop_column("sealed_secret")

    # ### end Alembic commands ###
