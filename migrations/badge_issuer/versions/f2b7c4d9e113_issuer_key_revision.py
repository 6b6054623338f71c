"""issuer key revision: one number that every change to issuer_keys moves, kept by triggers

Verification caches this service's own public keys per replica under this number, so a key revoked as
compromised (or a new key) is seen as soon as the number is re-read. Triggers rather than application
code keep it: a Core UPDATE, a cascade or a hand-run SQL statement moves it as an ORM flush does.

On SQLite a later batch_alter_table of issuer_keys rebuilds the table and drops its triggers: such a
migration must create them again (upgrade() below shows how).

Revision ID: f2b7c4d9e113
Revises: e5a1c0de7a02
Create Date: 2026-12-03 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2b7c4d9e113"
down_revision: str | None = "e5a1c0de7a02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE issuer_key_revision SET revision = revision + 1 WHERE id = 1"
EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    op.create_table(
        "issuer_key_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO issuer_key_revision (id, revision) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_issuer_key_revision() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER issuer_keys_bump_revision AFTER INSERT OR UPDATE OR DELETE ON issuer_keys "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_issuer_key_revision()"
        )
        return
    for event in EVENTS:
        op.execute(
            f"CREATE TRIGGER issuer_keys_bump_revision_{event.lower()} AFTER {event} ON issuer_keys BEGIN {BUMP}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER issuer_keys_bump_revision ON issuer_keys")
        op.execute("DROP FUNCTION bump_issuer_key_revision()")
    else:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER issuer_keys_bump_revision_{event.lower()}")
    op.drop_table("issuer_key_revision")
