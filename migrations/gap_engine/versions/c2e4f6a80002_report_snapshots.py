"""stored organisation report snapshots

Revision ID: c2e4f6a80002
Revises: c2e4f6a80001
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "c2e4f6a80002"
down_revision: str | None = "c2e4f6a80001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
