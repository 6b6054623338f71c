"""issuer trust weights on skill facts, own issuers, alignment mappings

Revision ID: c2e4f6a80001
Revises: 3d0c92257ba8
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e4f6a80001"
down_revision: str | None = "3d0c92257ba8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("skill_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight", sa.Float(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("skill_facts", schema=None) as batch_op:
        batch_op.drop_column("weight")
