"""Pool size is a per-service setting that reaches the engine; loopback PostgreSQL skips the TLS attempt;
JSON columns go through orjson."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.settings import GapSettings
from shared.db import Database, asyncpg_connect_args, is_loopback_url
from shared.service_app import build_service_app


def test_the_pool_size_is_read_from_each_services_prefix_and_bounded(monkeypatch):
    monkeypatch.setenv("CREDSTACK_ISSUER_DB_POOL_SIZE", "7")
    monkeypatch.setenv("CREDSTACK_ISSUER_DB_MAX_OVERFLOW", "3")
    settings = IssuerSettings()
    assert (settings.db_pool_size, settings.db_max_overflow) == (7, 3)
    assert (GapSettings().db_pool_size, GapSettings().db_max_overflow) == (20, 20)
    monkeypatch.setenv("CREDSTACK_ISSUER_DB_POOL_SIZE", "0")
    with pytest.raises(ValidationError):
        IssuerSettings()
    monkeypatch.setenv("CREDSTACK_ISSUER_DB_POOL_SIZE", "1000")
    with pytest.raises(ValidationError):
        IssuerSettings()


async def test_the_service_app_builds_its_pool_from_the_settings():
    settings = GapSettings(database_url="postgresql+asyncpg://u@127.0.0.1:1/db", db_pool_size=5, db_max_overflow=2)
    app = build_service_app(settings, title="t", description="d", routers=[])
    pool = app.state.database.engine.pool
    assert (pool.size(), pool._max_overflow) == (5, 2)
    await app.state.database.dispose()


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("postgresql+asyncpg://u@127.0.0.1:5432/db", True),
        ("postgresql+asyncpg://u@localhost/db", True),
        ("postgresql+asyncpg://u@[::1]:5432/db", True),
        ("postgresql+asyncpg://u@127.0.0.2/db", True),
        ("postgresql+asyncpg://u@127.0.0.1/db?ssl=require", False),
        ("postgresql+asyncpg://u@localhost/db?sslmode=verify-full", False),
        ("postgresql+asyncpg://u@db.internal:5432/db", False),
        ("postgresql+asyncpg://u@10.0.0.5/db", False),
        ("postgresql+asyncpg:///db", False),
    ],
)
def test_only_loopback_urls_that_say_nothing_about_tls_skip_it(url, loopback):
    assert is_loopback_url(url) is loopback


async def test_the_engine_asks_asyncpg_for_no_tls_only_on_loopback():
    assert asyncpg_connect_args("postgresql+asyncpg://u@127.0.0.1:1/db")["ssl"] is False
    bounded = {
        "server_settings": {
            "lock_timeout": "10000",
            "statement_timeout": "30000",
            "idle_in_transaction_session_timeout": "60000",
        }
    }
    assert asyncpg_connect_args("postgresql+asyncpg://u@db.internal:1/db") == {
        **bounded,
        "prepared_statement_cache_size": 500,
    }
    assert asyncpg_connect_args("postgresql+asyncpg://u@db.internal/db?prepared_statement_cache_size=0") == bounded
    local = Database("postgresql+asyncpg://u@127.0.0.1:1/db", pool_size=3, max_overflow=1)
    remote = Database("postgresql+asyncpg://u@db.internal:1/db")
    assert (local.engine.pool.size(), local.engine.pool._max_overflow) == (3, 1)
    assert (remote.engine.pool.size(), remote.engine.pool._max_overflow) == (20, 20)
    await local.dispose()
    await remote.dispose()


async def test_every_connection_waits_for_a_lock_no_longer_than_the_setting(service_settings):
    """On PostgreSQL the service's connections carry lock_timeout (issue 15: a request waiting on a
    lock its own transaction held hung for ever); SQLite has its busy timeout instead."""
    from sqlalchemy import text

    from services.taxonomy_api.app import create_app
    from services.taxonomy_api.settings import TaxonomySettings

    app = create_app(service_settings(TaxonomySettings, "taxonomy_api", db_lock_timeout_ms=1500))
    try:
        async with app.state.database.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                assert (await connection.execute(text("SHOW lock_timeout"))).scalar() == "1500ms"
                assert (await connection.execute(text("SHOW statement_timeout"))).scalar() == "30s"
                idle = (await connection.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar()
                assert idle == "1min"
            else:
                assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() > 0
    finally:
        await app.state.database.dispose()
