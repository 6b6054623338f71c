"""Database plumbing shared by the services: typed columns, engines, the one session dependency."""

import contextlib
import ipaddress
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy import JSON, DateTime, TypeDecorator, Uuid, event, make_url, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.base import Executable

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


def _sqlite_configurer(busy_timeout_ms: int) -> Any:
    """Foreign keys, WAL, and the lock bound: SQLite's busy timeout is its lock_timeout (a writer
    waiting longer for the one write lock gets "database is locked", a 503)."""

    def configure(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return configure


DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 20
# Prepared statements kept per connection by SQLAlchemy's asyncpg adapter (it prepares every statement
# itself; asyncpg's own statement cache is not on that path). The default, 100, is near what one service
# uses once IN lists of different lengths count as different statements; an evicted one is parsed again.
STATEMENT_CACHE_SIZE = 500


def _json_dumps(value: Any) -> str:
    # Non-string keys become strings, as with the standard library's json.dumps.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def is_loopback_url(url: str) -> bool:
    """A PostgreSQL URL whose host is this machine and which says nothing about TLS: asyncpg's default
    (sslmode=prefer) would try a TLS handshake on each new connection for nothing."""
    parsed = make_url(url)
    if any(name in parsed.query for name in ("ssl", "sslmode")):
        return False
    host = (parsed.host or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# How long a statement may wait for a row or table lock before PostgreSQL gives up on it (the request
# then answers 503 with Retry-After): no wait on the database is unbounded, so a request that would
# wait on a lock held by a stuck or self-blocking transaction ends and releases its own locks.
DEFAULT_LOCK_TIMEOUT_MS = 10_000
# The longest one statement may run (then it is cancelled, SQLSTATE 57014, a 503): generous, so that
# legitimate big statements pass; jobs that need more raise it for their own transaction
# (`allow_long_statements`).
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
# The longest a connection may sit idle inside an open transaction (then PostgreSQL ends the session
# and its locks go): code that forgot to commit, or waits on something else with a transaction open,
# cannot hold row locks for ever.
DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


def asyncpg_connect_args(
    url: str,
    *,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    idle_in_transaction_timeout_ms: int = DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
) -> dict[str, Any]:
    """What the engine passes on each connect (a setting in the URL's query wins): the bounds on every
    wait, as session settings, so they hold on every connection the pool opens."""
    query = make_url(url).query
    args: dict[str, Any] = {
        "server_settings": {
            "lock_timeout": str(lock_timeout_ms),
            "statement_timeout": str(statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(idle_in_transaction_timeout_ms),
        }
    }
    if "prepared_statement_cache_size" not in query:
        args["prepared_statement_cache_size"] = STATEMENT_CACHE_SIZE
    if is_loopback_url(url):
        args["ssl"] = False
    return args


def create_engine(
    url: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int | None = None,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    idle_in_transaction_timeout_ms: int = DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
) -> AsyncEngine:
    """One engine per service process; SQLite gets foreign keys, WAL and a busy timeout (its only
    bound on a wait: it has no statement or idle timeout).

    JSON columns go through orjson (several times faster than the stdlib on credential documents)."""
    json_args: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        engine = create_async_engine(url, poolclass=NullPool, **json_args)
        event.listen(engine.sync_engine, "connect", _sqlite_configurer(lock_timeout_ms))
        return engine
    # No pre-ping: it costs a round trip per request; a dead connection fails its query, is invalidated
    # by the pool, and the client gets a 503 it may retry. A connection returned while pool_size others
    # sit idle is closed, so pool_size should cover the usual concurrency (each new one costs a connect,
    # a server fork and its statements prepared again).
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_recycle=1800,
        connect_args=asyncpg_connect_args(
            url,
            lock_timeout_ms=lock_timeout_ms,
            statement_timeout_ms=statement_timeout_ms,
            idle_in_transaction_timeout_ms=idle_in_transaction_timeout_ms,
        ),
        **json_args,
    )


class Database:
    """Holds a service's engine and session factory; lives on app.state.database."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
        session_class: type[Session] = Session,
        session_info: dict[str, Any] | None = None,
        lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
        statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
        idle_in_transaction_timeout_ms: int = DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ) -> None:
        self.url = url
        bounds = {
            "lock_timeout_ms": lock_timeout_ms,
            "statement_timeout_ms": statement_timeout_ms,
            "idle_in_transaction_timeout_ms": idle_in_transaction_timeout_ms,
        }
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, **bounds)
        # A small pool of its own for short side transactions taken while a request's transaction is
        # open (claiming a counter): from the request pool they could wait, deadlocked, behind the very
        # requests that need them. SQLite has one writer, so it has none.
        self.side_engine = None if is_sqlite(url) else create_engine(url, pool_size=2, max_overflow=2, **bounds)
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


async def scalar_outside_transaction(session: AsyncSession, statement: Executable) -> Any:
    """One value read for a session that has no transaction open, on PostgreSQL on an autocommit
    connection: one round trip, and the session stays without a transaction, so its commit costs
    nothing either. Inside a transaction (or on SQLite, one writer) the session reads it itself."""
    engine = session.bind
    if session.info.get("side_engine") is None or session.in_transaction() or not isinstance(engine, AsyncEngine):
        return await session.scalar(statement)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        return await connection.scalar(statement)


async def allow_long_statements(session: AsyncSession, *, statement_ms: int, idle_ms: int) -> None:
    """Raises the statement and idle-in-transaction bounds for this transaction only (SET LOCAL: they
    come back at its end), for a job known to need more than a request (a framework import). SQLite
    has neither bound; nothing to do there."""
    if session.bind.dialect.name != "postgresql":
        return
    await session.execute(text(f"SET LOCAL statement_timeout = {int(statement_ms)}"))
    await session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {int(idle_ms)}"))


@contextlib.asynccontextmanager
async def hash_joins_only(session: AsyncSession) -> AsyncIterator[None]:
    """For set-based statements over a whole organisation: on PostgreSQL no nested-loop join inside
    (SET LOCAL, back to the default after; a failed transaction rolls it back anyway). Right after a
    bulk load the tables have no statistics yet, the planner takes each for a row or two, and a nested
    loop then runs the other side once per row (a correlated subquery per credential: minutes on 2,000
    employees). A hash join costs the sizes of its two sides, whatever the estimates say."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await session.execute(text("SET LOCAL enable_nestloop = off"))
    yield
    if postgres:
        await session.execute(text("SET LOCAL enable_nestloop = DEFAULT"))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The one session dependency: a session per request, rolled back if not committed."""
    session = request.app.state.database.sessions()
    try:
        yield session
    finally:
        await close_session(session)


async def close_session(session: AsyncSession) -> None:
    """Close, rolling back what was not committed. A request's session closes after its response has
    gone out, so a connection lost by then (the database restarting) must not raise: its transaction
    went with it, and an error there makes uvicorn drop the client's keep-alive connection, whose next
    request then gets no answer at all. The dead connection is discarded; anything else still raises."""
    try:
        await session.close()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        await session.invalidate()
