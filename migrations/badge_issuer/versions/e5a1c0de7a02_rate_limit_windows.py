"""rate limit windows: the public rate limit counted in the database, one budget for every replica

Revision ID: e5a1c0de7a02
Revises: d4e8a2c61f30
Create Date: 2026-12-02 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5a1c0de7a02"
down_revision: str | None = "d4e8a2c61f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("bucket", sa.String(length=120), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_windows")
