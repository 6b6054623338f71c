"""Alembic environment of badge_issuer (version table alembic_version_badge_issuer)."""

from services.badge_issuer.db.tables import Base
from shared.migrations import run_migrations

run_migrations(Base.metadata)
