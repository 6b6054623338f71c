"""stored organisation report snapshots

Revision ID: c2e4f6a80002
Revises: c2e4f6a80001
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e4f6a80002"
down_revision: str | None = "c2e4f6a80001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gap_report_states",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "basis"),
    )
    op.create_table(
        "gap_report_employees",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("employee_id", sa.Uuid(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=True),
        sa.Column("team", sa.String(length=200), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("readiness", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "basis", "employee_id"),
    )
    op.create_table(
        "gap_report_cells",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("skill_id", sa.Uuid(), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.Column("meeting", sa.Integer(), nullable=False),
        sa.Column("weighted_shortfall", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "basis", "role_id", "skill_id"),
    )
    op.create_table(
        "gap_report_bodies",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "basis", "scope", "name"),
    )


def downgrade() -> None:
    op.drop_table("gap_report_bodies")
    op.drop_table("gap_report_cells")
    op.drop_table("gap_report_employees")
    op.drop_table("gap_report_states")
