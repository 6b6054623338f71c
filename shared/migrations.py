"""Alembic, one environment per service (migrations/<service>/), each with its own version table."""

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, is_sqlite
from shared.settings import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "migrations"
MIGRATION_TIMEOUT_MS = 30 * 60_000


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / service))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: str, url: str) -> None:
    """Apply every pending migration of `service` (must run outside an event loop)."""
    if is_sqlite(url):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(service, url), "head")


def head_revision(service: str) -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR / service)).get_current_head()


async def current_revision(engine: AsyncEngine, service: str) -> str | None:
    def read(connection: Connection) -> str | None:
        migration = MigrationContext.configure(connection, opts={"version_table": version_table(service)})
        return migration.get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def run_migrations(metadata: MetaData) -> None:
    """Body of each service's env.py: run online migrations through the service's async driver."""
    config = context.config
    service = config.attributes.get("service") or Path(config.get_main_option("script_location")).name
    url = config.get_main_option("sqlalchemy.url")

    def migrate(connection: Connection) -> None:
        if connection.dialect.name == "sqlite":
            # Batch migrations rebuild tables (copy, drop, rename): with foreign keys on, dropping the
            # old table would cascade-delete the rows that refer to it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table(service),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        # Still bounded, but a migration may rewrite or index a large table: far longer than a request.
        engine = create_engine(
            url, statement_timeout_ms=MIGRATION_TIMEOUT_MS, idle_in_transaction_timeout_ms=MIGRATION_TIMEOUT_MS
        )
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())
