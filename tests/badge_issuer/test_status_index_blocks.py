"""Status indexes handed out from blocks a replica reserved: unique across replicas, never reused.

Each test drives the block allocator of domain/status_lists.py against the real database (SQLite or
PostgreSQL, whichever the suite runs on), with two allocators standing for two issuer replicas.
"""

import asyncio
import uuid

from sqlalchemy import select, update

from services.badge_issuer.db.tables import IssuerKey, StatusList
from services.badge_issuer.domain import status_lists
from services.badge_issuer.status_list import MIN_ENTRIES, REVOCATION
from tests.badge_issuer.conftest import ISSUER_BASE_URL, idempotent


async def _key(issuer_app, issuer) -> IssuerKey:
    async with issuer_app.state.database.sessions() as session:
        return await session.scalar(select(IssuerKey).where(IssuerKey.issuer_id == uuid.UUID(issuer["id"])))


async def _next_index(issuer_app, list_id: uuid.UUID) -> int:
    async with issuer_app.state.database.sessions() as session:
        return await session.scalar(select(StatusList.next_index).where(StatusList.id == list_id))


async def test_two_replicas_allocating_at_once_never_share_an_index(issuer_app, issuer):
    key, engine = await _key(issuer_app, issuer), issuer_app.state.database.engine
    # The key's first list exists already (two replicas racing to open the first one would open one each,
    # which is allowed: every list is the key's, and each index is still unique).
    opened, _ = await status_lists._BlockAllocator().allocate(engine, key, REVOCATION, 16)
    replicas = [status_lists._BlockAllocator(), status_lists._BlockAllocator()]

    async def take(allocator, count):
        return [await allocator.allocate(engine, key, REVOCATION, 16) for _ in range(count)]

    taken = await asyncio.gather(*(take(replicas[number % 2], 25) for number in range(8)))
    slots = [(status_list.id, index) for run in taken for status_list, index in run]
    assert len(slots) == 200 and len(set(slots)) == 200
    assert {list_id for list_id, _ in slots} == {opened.id}
    list_id = opened.id
    # Each replica's indexes come from whole blocks of 16 it reserved; the database mark is past all of them.
    for allocator in replicas:
        block = allocator.blocks[(key.id, REVOCATION)]
        assert block.end % 16 == 0 and block.next <= block.end
    assert await _next_index(issuer_app, list_id) >= max(index for _, index in slots) + 1
    assert await _next_index(issuer_app, list_id) % 16 == 0


async def test_a_replica_that_stops_leaves_its_unused_indexes_unused(issuer_app, issuer):
    key, engine = await _key(issuer_app, issuer), issuer_app.state.database.engine
    crashed = status_lists._BlockAllocator()
    first_list, first = await crashed.allocate(engine, key, REVOCATION, 32)
    assert first == 0
    # The process is gone with indexes 1..31 of its block: a new one starts past them.
    restarted = status_lists._BlockAllocator()
    status_list, index = await restarted.allocate(engine, key, REVOCATION, 32)
    assert (status_list.id, index) == (first_list.id, 32)
    assert await _next_index(issuer_app, first_list.id) == 64


async def test_a_nearly_full_list_gives_what_it_has_then_a_new_list_is_opened(issuer_app, issuer):
    key, engine = await _key(issuer_app, issuer), issuer_app.state.database.engine
    allocator = status_lists._BlockAllocator()
    first_list, _ = await allocator.allocate(engine, key, REVOCATION, 8)
    async with issuer_app.state.database.sessions() as session:
        await session.execute(
            update(StatusList).where(StatusList.id == first_list.id).values(next_index=MIN_ENTRIES - 3)
        )
        await session.commit()
    fresh = status_lists._BlockAllocator()
    taken = [await fresh.allocate(engine, key, REVOCATION, 8) for _ in range(5)]
    assert [(s.id, i) for s, i in taken[:3]] == [(first_list.id, MIN_ENTRIES - 3 + n) for n in range(3)]
    second_list = taken[3][0]
    assert second_list.id != first_list.id
    assert [index for _, index in taken[3:]] == [0, 1]
    assert await _next_index(issuer_app, first_list.id) == MIN_ENTRIES
    assert await _next_index(issuer_app, second_list.id) == 8


async def test_a_block_of_one_reserves_one_index_at_a_time(issuer_app, issuer):
    key, engine = await _key(issuer_app, issuer), issuer_app.state.database.engine
    allocator = status_lists._BlockAllocator()
    taken = [await allocator.allocate(engine, key, REVOCATION, 1) for _ in range(3)]
    assert [index for _, index in taken] == [0, 1, 2]
    assert await _next_index(issuer_app, taken[0][0].id) == 3


async def test_concurrent_issuances_through_the_api_get_distinct_entries(client, headers, assessment, issuer_app):
    responses = await asyncio.gather(
        *(client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers)) for _ in range(12))
    )
    assert {response.status_code for response in responses} == {201}, [r.text for r in responses]
    entries = [response.json()["credential"]["credential"]["credentialStatus"] for response in responses]
    assert len({(entry["statusListCredential"], entry["statusListIndex"]) for entry in entries}) == 12
    assert all(entry["statusListCredential"].startswith(ISSUER_BASE_URL) for entry in entries)
