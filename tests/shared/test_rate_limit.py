"""The rate limit counted in the database: replicas (here, separate engines) on one database spend one
budget, exactly, even concurrently; Retry-After is what remains of the clock-aligned window; windows
that have ended are deleted."""

import asyncio
import uuid

from sqlalchemy import event, text

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
    allowed = sorted(s.count for s in spent if s.allowed)
    assert allowed == list(range(1, 26))  # one unit each, none lost, none counted twice
    assert all(s.count >= 25 for s in spent if not s.allowed)


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


async def test_a_large_budget_is_claimed_in_blocks_and_never_exceeded_across_replicas(database_urls):
    """640 a minute: blocks of 10. Two replicas taking turns (7 requests each) allow the budget exactly,
    since each spends what it was granted on its next turn, and ask the database once per block (or
    per turn), not once per request."""
    url = database_urls["badge_issuer"]
    replicas = [Database(url, pool_size=5), Database(url, pool_size=5)]
    budget = f"test-{uuid.uuid4().hex}"
    limiters = [SharedWindowLimiter(640, budget=budget), SharedWindowLimiter(640, budget=budget)]
    claims: list[str] = []

    def note(_connection, _cursor, statement: str, *_) -> None:  # noqa: ANN001
        if statement.startswith("INSERT INTO rate_limit_windows"):
            claims.append(statement)

    for database in replicas:
        event.listen(database.engine.sync_engine, "before_cursor_execute", note)
    now = 1_800_000_000.0
    try:
        spent = [
            await limiters[(i // 7) % 2].spend(replicas[(i // 7) % 2], "c", now=now + i / 1000) for i in range(800)
        ]
    finally:
        for database in replicas:
            await database.dispose()
    assert limiters[0].block == 10
    assert sum(s.allowed for s in spent) == 640
    assert not any(s.allowed for s in spent[640 + 2 * 10 :])  # each replica's last block spent, then no more
    assert len(claims) <= 640 // 10 + 800 // 7  # one claim per block or per turn
    assert len(claims) < 800 / 3


async def test_short_lived_processes_claim_about_what_they_spend(database_urls):
    """Many processes each serving a client twice (as the test suite's apps do) must not each claim a
    whole block: blocks grow from one unit, so 100 processes claim 300 units of a 1,000,000 budget,
    not 100 blocks of 15,625 (which exhausted a shared budget within a minute)."""
    database = Database(database_urls["badge_issuer"], pool_size=1)
    budget = f"test-{uuid.uuid4().hex}"
    now = 1_800_000_000.0
    try:
        for process in range(100):
            limiter = SharedWindowLimiter(1_000_000, budget=budget)
            for request in range(2):
                assert (await limiter.spend(database, "c", now=now + process / 1000 + request / 10_000)).allowed
        last = await SharedWindowLimiter(1_000_000, budget=budget).spend(database, "c", now=now + 0.5)
    finally:
        await database.dispose()
    assert last.count == 100 * (1 + 2) + 1
