"""issuer key types, did:web identities, compromised keys

Revision ID: a1d3e5f70001
Revises: fa61340b35e5
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "a1d3e5f70001"
down_revision: str | None = "fa61340b35e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
