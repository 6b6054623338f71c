"""Database plumbing shared by the services: typed columns, engines, the one session dependency."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import JSON, DateTime, TypeDecorator, Uuid, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware on both backends: SQLite stores no zone, so UTC is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class TenantMixin:
    """Every organisation-owned row carries its organisation; repositories filter on it."""

    org_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _configure_sqlite(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """One engine per service process; SQLite gets foreign keys, WAL and a busy timeout."""
    if is_sqlite(url):
        engine = create_async_engine(url, poolclass=NullPool)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    # No pre-ping: it costs a round trip per request; a dead connection fails its query, is invalidated
    # by the pool, and the client gets a 503 it may retry.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


class Database:
    """Holds a service's engine and session factory; lives on app.state.database."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        session_class: type[Session] = Session,
        session_info: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        # A small pool of its own for short side transactions taken while a request's transaction is
        # open (claiming a counter): from the request pool they could wait, deadlocked, behind the very
        # requests that need them. SQLite has one writer, so it has none.
        self.side_engine = None if is_sqlite(url) else create_engine(url, pool_size=2)
        self.sessions = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            autoflush=False,
            sync_session_class=session_class,
            info={**(session_info or {}), "side_engine": self.side_engine},
        )
        # Single-statement reads need no BEGIN/ROLLBACK round trips.
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.side_engine is not None:
            await self.side_engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The one session dependency: a session per request, rolled back if not committed."""
    async with request.app.state.database.sessions() as session:
        yield session
