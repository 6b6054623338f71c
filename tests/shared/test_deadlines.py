"""Every wait has a bound (issue 15: a request waiting on a lock its own transaction held hung for
ever). A statement that waits past the database's bound (statement_timeout on PostgreSQL, the busy
timeout on SQLite's write lock) answers 503 with Retry-After, not 500, and the connection serves the
next request; a handler stuck past the request deadline answers 503 and its work is cancelled."""

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import get_session
from shared.service_app import build_service_app
from shared.settings import ServiceSettings
from tests.conftest import asgi_client

pytestmark = pytest.mark.anyio

BOUND_MS = 300
DEADLINE_SECONDS = 0.5


def _router(seen: list[str]) -> APIRouter:
    router = APIRouter()

    @router.get("/slow-statement")
    async def slow_statement(session: AsyncSession = Depends(get_session)) -> dict[str, str]:
        if session.bind.dialect.name == "postgresql":
            await session.execute(text("SELECT pg_sleep(3)"))
        else:  # needs the write lock, which the test holds
            await session.execute(text("UPDATE webhook_subscriptions SET active = active WHERE id IS NULL"))
        return {"status": "finished"}

    @router.get("/stuck")
    async def stuck(session: AsyncSession = Depends(get_session)) -> dict[str, str]:
        await session.execute(text("SELECT 1"))  # a transaction is open while it waits
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return {"status": "finished"}

    @router.get("/ping")
    async def ping(session: AsyncSession = Depends(get_session)) -> dict[str, int]:
        return {"answer": (await session.execute(text("SELECT 1"))).scalar_one()}

    return router


@pytest.fixture
def seen() -> list[str]:
    return []


@pytest.fixture
async def bounded_app(service_settings, seen) -> AsyncIterator[FastAPI]:
    """A service with tight bounds and one connection (so the next request reuses the one that timed out)."""
    settings = service_settings(
        ServiceSettings,
        "badge_issuer",
        db_statement_timeout_ms=BOUND_MS,
        db_lock_timeout_ms=BOUND_MS,
        db_pool_size=1,
        db_max_overflow=0,
        request_deadline_seconds=DEADLINE_SECONDS,
    )
    yield build_service_app(settings, title="bounded", description="bounds under test", routers=[_router(seen)])


@pytest.fixture
async def client(bounded_app) -> AsyncIterator[httpx.AsyncClient]:
    async for client in asgi_client(bounded_app):
        yield client


@contextmanager
def write_lock_held(url: str) -> Iterator[None]:
    """On SQLite another connection holds the write lock meanwhile (what a long writer does); on
    PostgreSQL nothing: the statement itself is slow."""
    if not url.startswith("sqlite"):
        yield
        return
    holder = sqlite3.connect(make_url(url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_statement_past_its_bound_is_a_503_with_retry_after(client, database_urls):
    with write_lock_held(database_urls["badge_issuer"]):
        started = time.monotonic()
        response = await client.get("/slow-statement")
        elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 503
    assert elapsed < 2.5, f"the statement ran {elapsed:.2f} s past a {BOUND_MS} ms bound"


async def test_after_a_statement_timeout_the_same_connection_answers(client, database_urls):
    with write_lock_held(database_urls["badge_issuer"]):
        assert (await client.get("/slow-statement")).status_code == 503
    for _ in range(3):
        response = await client.get("/ping")
        assert (response.status_code, response.json()) == (200, {"answer": 1})


async def test_a_handler_stuck_past_the_deadline_is_a_503_and_its_work_is_cancelled(client, seen):
    started = time.monotonic()
    response = await client.get("/stuck")
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"
    assert response.headers["x-request-id"]
    assert response.json()["type"].endswith("/deadline-exceeded")
    assert DEADLINE_SECONDS <= elapsed < DEADLINE_SECONDS + 1.5
    assert seen == ["cancelled"]
    # Its transaction was rolled back and its one connection returned: the next request is served.
    assert (await client.get("/ping")).json() == {"answer": 1}
