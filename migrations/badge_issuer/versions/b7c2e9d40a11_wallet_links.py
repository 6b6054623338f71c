"""wallet links: signed, expiring, revocable read-only links to a learner's wallet

Revision ID: b7c2e9d40a11
Revises: a1d3e5f70001
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c2e9d40a11"
down_revision: str | None = "a1d3e5f70001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallet_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("learner_hris_id", sa.String(length=200), nullable=True),
        sa.Column("learner_email", sa.String(length=320), nullable=True),
        sa.Column("holder_name", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "learner_hris_id IS NOT NULL OR learner_email IS NOT NULL", name="ck_wallet_links_names_a_learner"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="uq_wallet_links_token_hash"),
    )
    op.create_index("ix_wallet_links_org_id", "wallet_links", ["org_id"])
    op.create_index("ix_wallet_links_learner_hris_id", "wallet_links", ["learner_hris_id"])


def downgrade() -> None:
    op.drop_index("ix_wallet_links_learner_hris_id", table_name="wallet_links")
    op.drop_index("ix_wallet_links_org_id", table_name="wallet_links")
    op.drop_table("wallet_links")
