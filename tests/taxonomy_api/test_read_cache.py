"""Cached reads never serve data older than the organisation's taxonomy revision allows."""

import time

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
