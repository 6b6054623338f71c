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
    with op.batch_alter_table("trusted_issuers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), server_default="admin", nullable=False))
        batch_op.add_column(sa.Column("issuer_ref", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("distrusted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_trusted_issuers_org_ref", ["org_id", "issuer_ref"], unique=False)
    op.create_table(
        "alignment_mappings",
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("framework", sa.String(length=100), nullable=True),
        sa.Column("skill_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "target", name="uq_alignment_mappings_org_target"),
    )
    with op.batch_alter_table("alignment_mappings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alignment_mappings_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alignment_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alignment_mappings_org_id"))
    op.drop_table("alignment_mappings")
    with op.batch_alter_table("trusted_issuers", schema=None) as batch_op:
        batch_op.drop_index("ix_trusted_issuers_org_ref")
        batch_op.drop_column("distrusted_at")
        batch_op.drop_column("issuer_ref")
        batch_op.drop_column("origin")
    with op.batch_alter_table("skill_facts", schema=None) as batch_op:
        batch_op.drop_column("weight")
