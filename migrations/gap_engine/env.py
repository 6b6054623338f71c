"""Alembic environment of gap_engine (version table alembic_version_gap_engine)."""

from services.gap_engine.db.tables import Base
from shared.migrations import run_migrations

run_migrations(Base.metadata)
