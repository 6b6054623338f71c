"""recipient binding, credentials awaiting their employee, status sweep, issuer API clients, reconciliation

Revision ID: c2e4f6a80003
Revises: c2e4f6a80002
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2e4f6a80003"
down_revision: str | None = "c2e4f6a80002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("received_credentials", schema=None) as batch_op:
        batch_op.alter_column("employee_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("learner_hint", sa.String(length=400), nullable=True))
        # Rows received before binding existed are unchecked: the status sweep binds them.
        batch_op.add_column(sa.Column("recipient", sa.String(length=16), server_default="unchecked", nullable=False))
        batch_op.add_column(sa.Column("alignment", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("check_outcome", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("unreachable_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_received_credentials_org_hint", ["org_id", "learner_hint"], unique=False)
        batch_op.create_index("ix_received_credentials_checked_at", ["checked_at"], unique=False)
    with op.batch_alter_table("webhook_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("sealed_client_secret", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("reconciled_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reconcile_cursor", sa.String(length=512), nullable=True))
    op.create_table(
        "employee_emails",
        sa.Column("employee_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "employee_id", "email", name="uq_employee_emails_org_employee_email"),
    )
    with op.batch_alter_table("employee_emails", schema=None) as batch_op:
        batch_op.create_index("ix_employee_emails_org_email", ["org_id", "email"], unique=False)
        batch_op.create_index(batch_op.f("ix_employee_emails_org_id"), ["org_id"], unique=False)
    # Addresses already on record count as recorded.
    op.execute(
        "INSERT INTO employee_emails (id, org_id, employee_id, email, recorded_at) "
        "SELECT id, org_id, id, lower(email), updated_at FROM employees WHERE email IS NOT NULL"
    )
    op.create_table(
        "employee_dids",
        sa.Column("employee_id", sa.Uuid(), nullable=False),
        sa.Column("did", sa.String(length=500), nullable=False),
        sa.Column("proved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "employee_id", "did", name="uq_employee_dids_org_employee_did"),
    )
    with op.batch_alter_table("employee_dids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employee_dids_org_id"), ["org_id"], unique=False)
    op.create_table(
        "did_challenges",
        sa.Column("employee_id", sa.Uuid(), nullable=False),
        sa.Column("did", sa.String(length=500), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce"),
    )
    with op.batch_alter_table("did_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_did_challenges_org_id"), ["org_id"], unique=False)
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("worker_leases")
    op.drop_table("did_challenges")
    op.drop_table("employee_dids")
    with op.batch_alter_table("employee_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employee_emails_org_id"))
        batch_op.drop_index("ix_employee_emails_org_email")
    op.drop_table("employee_emails")
    with op.batch_alter_table("webhook_sources", schema=None) as batch_op:
        batch_op.drop_column("reconcile_cursor")
        batch_op.drop_column("reconciled_at")
        batch_op.drop_column("reconciled_until")
        batch_op.drop_column("sealed_client_secret")
        batch_op.drop_column("client_id")
    op.execute("DELETE FROM received_credentials WHERE employee_id IS NULL")
    with op.batch_alter_table("received_credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_received_credentials_checked_at")
        batch_op.drop_index("ix_received_credentials_org_hint")
        batch_op.drop_column("unreachable_since")
        batch_op.drop_column("check_outcome")
        batch_op.drop_column("checked_at")
        batch_op.drop_column("alignment")
        batch_op.drop_column("recipient")
        batch_op.drop_column("learner_hint")
        batch_op.alter_column("employee_id", existing_type=sa.Uuid(), nullable=False)
