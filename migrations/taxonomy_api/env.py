"""Alembic environment of taxonomy_api (version table alembic_version_taxonomy_api)."""

from services.taxonomy_api.db.tables import Base
from shared.migrations import run_migrations

run_migrations(Base.metadata)
