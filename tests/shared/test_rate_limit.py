"""The rate limit counted in the database: replicas (here, separate engines) on one database spend one
budget, exactly, even concurrently; Retry-After is what remains of the clock-aligned window; windows
that have ended are deleted."""

import asyncio
import uuid

from sqlalchemy import text

from shared.db import Database
from shared.rate_limit import SharedWindowLimiter


async def test_two_engines_on_one_database_share_the_limit_exactly(database_urls):
    url = database_urls["badge_issuer"]
    replicas = [Database(url, pool_size=5), Database(url, pool_size=5)]
    budget = f"test-{uuid.uuid4().hex}"
    limiters = [SharedWindowLimiter(25, budget=budget), SharedWindowLimiter(25, budget=budget)]
    now = 1_800_000_000.0
    try:
        spent = await asyncio.gather(
            *(limiters[i % 2].spend(replicas[i % 2], "198.51.100.7", now=now + i / 100) for i in range(60))
        )
    finally:
        for database in replicas:
            await database.dispose()
    assert sum(s.allowed for s in spent) == 25
    assert sorted(s.count for s in spent) == list(range(1, 61))  # no increment lost, none counted twice


async def test_retry_after_is_what_remains_of_the_window(database_urls):
    database = Database(database_urls["badge_issuer"], pool_size=1)
    limiter = SharedWindowLimiter(1, budget=f"test-{uuid.uuid4().hex}")
    window = 1_800_000_000.0  # a multiple of 60
    try:
        first = await limiter.spend(database, "a", now=window + 17.2)
        refused = await limiter.spend(database, "a", now=window + 17.9)
        other_client = await limiter.spend(database, "b", now=window + 18)
        next_window = await limiter.spend(database, "a", now=window + 60.5)
    finally:
        await database.dispose()
    assert first.allowed and other_client.allowed and next_window.allowed
    assert not refused.allowed and refused.retry_after == 43  # 42.1 s left, rounded up
    assert next_window.count == 1 and next_window.retry_after == 60


async def test_windows_that_ended_are_deleted(database_urls):
    database = Database(database_urls["badge_issuer"], pool_size=1)
    budget = f"test-{uuid.uuid4().hex}"
    window = 1_900_000_020.0
    count = text("SELECT count(*) FROM rate_limit_windows WHERE bucket LIKE :prefix AND window_start < :before")
    try:
        await SharedWindowLimiter(5, budget=budget).spend(database, "a", now=window)
        await SharedWindowLimiter(5, budget=budget).spend(database, "b", now=window + 1)
        async with database.autocommit_engine.connect() as connection:
            before = (await connection.execute(count, {"prefix": f"{budget}:%", "before": window + 60})).scalar_one()
        await SharedWindowLimiter(5, budget=budget).spend(database, "a", now=window + 61)  # a new process, later
        async with database.autocommit_engine.connect() as connection:
            after = (await connection.execute(count, {"prefix": f"{budget}:%", "before": window + 60})).scalar_one()
    finally:
        await database.dispose()
    assert (before, after) == (2, 0)
