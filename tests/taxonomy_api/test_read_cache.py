"""Cached reads never serve data older than the organisation's taxonomy revision allows."""

import asyncio
import time

import pytest

from services.taxonomy_api.app import create_app
from services.taxonomy_api.settings import TaxonomySettings
from shared.read_cache import RevisionedCache
from tests.conftest import asgi_client


def test_revisioned_cache_serves_only_the_matching_revision_and_expires_revisions():
    cache = RevisionedCache(max_entries=2, revision_ttl_seconds=0.05)
    cache.put("a", 1, b"one")
    assert cache.get("a", 1) == b"one" and cache.get("a", 2) is None
    cache.put("b", 1, b"b")
    cache.put("c", 1, b"c")
    assert cache.get("a", 1) is None  # least recently used entry evicted
    cache.remember_revision("org", 7)
    assert cache.known_revision("org") == 7
    time.sleep(0.06)
    assert cache.known_revision("org") is None
    cache.remember_revision("org", 8)
    cache.forget_revisions(["org"])
    assert cache.known_revision("org") is None


async def _turns_until_done(tasks: list[asyncio.Task]) -> int:
    turns = 0
    while not all(task.done() for task in tasks):
        await asyncio.sleep(0)
        turns += 1
    return turns


async def test_an_expired_revision_is_read_once_and_wakes_every_waiter_together():
    """32 requests find the revision expired: one query, and once it answers all of them go on in the
    same event-loop turn (each waking the next, the last waited ~32 turns: a 200 ms p99 under load)."""
    cache = RevisionedCache(revision_ttl_seconds=60)
    answer, reads = asyncio.Event(), []

    async def read() -> int:
        reads.append(1)
        await answer.wait()
        return 7

    waiters = [asyncio.create_task(cache.revision("org", read)) for _ in range(32)]
    for _ in range(3):
        await asyncio.sleep(0)
    answer.set()
    assert await _turns_until_done(waiters) <= 3
    assert [task.result() for task in waiters] == [7] * 32 and len(reads) == 1
    assert await cache.revision("org", read) == 7 and len(reads) == 1  # remembered while fresh


async def test_a_failed_revision_read_fails_its_waiters_and_the_next_request_reads_again():
    cache = RevisionedCache(revision_ttl_seconds=60)
    outcomes = iter([ConnectionError("database gone"), 9])

    async def read() -> int:
        await asyncio.sleep(0)
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    waiters = [asyncio.create_task(cache.revision("org", read)) for _ in range(4)]
    await _turns_until_done(waiters)
    for task in waiters:
        with pytest.raises(ConnectionError):
            task.result()
    assert await cache.revision("org", read) == 9


async def test_a_read_begun_before_a_local_write_is_neither_joined_nor_remembered_after_it():
    """A request that comes after this replica's write must see the write's revision, even while a
    revision read begun before the write is still on its way (it would answer the old one)."""
    cache = RevisionedCache(revision_ttl_seconds=60)
    in_database, answers = 7, {}

    async def read() -> int:
        seen = in_database
        gate = answers.setdefault(seen, asyncio.Event())
        await gate.wait()
        return seen

    before_write = asyncio.create_task(cache.revision("org", read))
    await asyncio.sleep(0)
    in_database = 8  # the write commits, and this replica forgets what it knew
    cache.forget_revisions(["org"])
    after_write = asyncio.create_task(cache.revision("org", read))
    await asyncio.sleep(0)
    answers[7].set()
    answers[8].set()
    assert await before_write == 7  # it began before the write: the old revision is a fair answer
    assert await after_write == 8
    assert await cache.revision("org", read) == 8  # and 7 was not remembered over it


async def test_a_write_through_one_replica_is_seen_by_another(client, headers, demo, service_settings):
    """Replica B (revision re-read on every request) sees replica A's change at once."""
    replica_b = create_app(service_settings(TaxonomySettings, "taxonomy_api", read_cache_revision_ttl_ms=0))
    skill_url = f"/v1/skills/{demo['Active listening']}"
    async for other in asgi_client(replica_b):
        before = (await other.get(skill_url, headers=headers)).json()
        changed = {key: before[key] for key in ("name", "scale_id", "capability_id")}
        changed["description"] = "changed through replica A"
        assert (await client.put(skill_url, json=changed, headers=headers)).status_code == 200
        after = await other.get(skill_url, headers=headers)
        assert after.json()["description"] == "changed through replica A"


async def test_a_skill_rename_changes_the_cached_role_that_names_it(client, headers, demo):
    role = (await client.get("/v1/roles", params={"name": "customer"}, headers=headers)).json()["items"][0]
    role_url = f"/v1/roles/{role['id']}"
    assert (await client.get(role_url, headers=headers)).json()["requirements"][0]["skill_name"] == "Active listening"
    skill_url = f"/v1/skills/{demo['Active listening']}"
    skill = (await client.get(skill_url, headers=headers)).json()
    renamed = {key: skill[key] for key in ("scale_id", "capability_id")} | {"name": "Deep listening"}
    assert (await client.put(skill_url, json=renamed, headers=headers)).status_code == 200
    assert (await client.get(role_url, headers=headers)).json()["requirements"][0]["skill_name"] == "Deep listening"
