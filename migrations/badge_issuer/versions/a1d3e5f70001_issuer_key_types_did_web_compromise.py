"""issuer key types, did:web identities, compromised keys

Revision ID: a1d3e5f70001
Revises: fa61340b35e5
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1d3e5f70001"
down_revision: str | None = "fa61340b35e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The initial migration left issuer_keys.did's unique constraint unnamed: PostgreSQL named it
# <table>_<column>_key; on SQLite batch mode reflects it and names it through this convention.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _did_unique_name() -> str:
    return "uq_issuer_keys_did" if op.get_bind().dialect.name == "sqlite" else "issuer_keys_did_key"


def upgrade() -> None:
    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identifier", sa.String(length=20), nullable=False, server_default="did:key"))
        batch_op.add_column(sa.Column("jwt_key_type", sa.String(length=20), nullable=False, server_default="Ed25519"))
        batch_op.alter_column("did", existing_type=sa.String(length=200), type_=sa.String(length=500))

    # Every key of a did:web or https issuer speaks for the same identifier, so `did` is no longer unique.
    with op.batch_alter_table("issuer_keys", schema=None, naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.drop_constraint(_did_unique_name(), type_="unique")
        batch_op.alter_column("kid", existing_type=sa.String(length=200), type_=sa.String(length=500))
        batch_op.alter_column("did", existing_type=sa.String(length=200), type_=sa.String(length=500))
        batch_op.add_column(sa.Column("compromised_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("compromised_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revocation_reason", sa.Text(), nullable=True))
    # One active key per type and issuer (after the columns above, so batch mode copies them first).
    op.create_index(
        "uq_issuer_keys_one_active_per_type",
        "issuer_keys",
        ["issuer_id", "key_type"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credentials_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_key_id"))

    op.drop_index("uq_issuer_keys_one_active_per_type", table_name="issuer_keys")
    with op.batch_alter_table("issuer_keys", schema=None, naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.drop_column("revocation_reason")
        batch_op.drop_column("compromised_since")
        batch_op.drop_column("compromised_at")
        batch_op.alter_column("did", existing_type=sa.String(length=500), type_=sa.String(length=200))
        batch_op.alter_column("kid", existing_type=sa.String(length=500), type_=sa.String(length=200))
        batch_op.create_unique_constraint(_did_unique_name(), ["did"])

    with op.batch_alter_table("issuers", schema=None) as batch_op:
        batch_op.alter_column("did", existing_type=sa.String(length=500), type_=sa.String(length=200))
        batch_op.drop_column("jwt_key_type")
        batch_op.drop_column("identifier")
