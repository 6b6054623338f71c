"""What issuance and verification remember, and that it stays honest.

The issuer here reaches the real taxonomy app in process through a transport that only counts what
passes (taxonomy_api answers every request itself), so the tests can see which reads were served
from memory, which were revalidated, and that a change in the taxonomy shows within the TTL.
"""

import asyncio
import collections
import uuid

import httpx
import pytest
from sqlalchemy import update

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.db.tables import Credential, StatusList
from services.badge_issuer.domain.taxonomy_client import TaxonomyClient
from services.badge_issuer.status_list import Bitstring, decode_cached
from shared.db import utcnow
from shared.errors import NotFound
from tests.badge_issuer.conftest import idempotent

SHORT_TTL = 0.3


class CountingTransport(httpx.AsyncBaseTransport):
    """Hands every request to the taxonomy app and notes its path and the status it answered."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.inner = httpx.ASGITransport(app=app)
        self.seen: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.seen.append((request.url.path, response.status_code))
        return response

    def count(self, fragment: str) -> int:
        return sum(fragment in path for path, _ in self.seen)


@pytest.fixture
def taxonomy_traffic(taxonomy_app) -> CountingTransport:
    return CountingTransport(taxonomy_app)


@pytest.fixture
async def issuer_app(issuer_settings, taxonomy_app, taxonomy_traffic):
    """The issuer of conftest, its taxonomy reads counted; a long taxonomy TTL unless a test shortens
    it, and a short status-revision TTL."""
    settings = issuer_settings(taxonomy_cache_ttl_seconds=60.0, status_revision_ttl_seconds=SHORT_TTL)
    app = create_issuer_app(settings, taxonomy_transport=taxonomy_traffic)
    yield app
    await app.state.taxonomy.http.aclose()
    await taxonomy_app.state.database.dispose()


async def _issue(client, headers, body):
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()


async def test_repeated_issuance_reads_the_taxonomy_once_within_the_ttl(
    client, headers, assessment, demo, taxonomy_traffic
):
    for number in range(4):
        await _issue(client, headers, assessment(learner={"hris_id": f"E-{number}"}))
    achievement = str(demo["badge:Active listening"])
    assert taxonomy_traffic.count(f"/v1/achievements/{achievement}") == 1
    assert taxonomy_traffic.count(f"/v1/public/achievements/{achievement}") == 1
    assert taxonomy_traffic.count("/v1/pathways") == 1  # one page of the pathway list, no progress asked
    assert taxonomy_traffic.count("/progress") == 0  # every learner holds one step of two: nothing can be due


async def test_the_capstone_is_awarded_and_progress_is_asked_only_when_it_could_be_due(
    client, headers, assessment, demo, taxonomy_traffic
):
    await _issue(client, headers, assessment())
    completed = await _issue(client, headers, assessment(achievement_id=str(demo["badge:Conflict navigation"])))
    assert [capstone["achievement_id"] for capstone in completed["capstones"]] == [
        str(demo["badge:Strategic storytelling"])
    ]
    assert taxonomy_traffic.count("/progress") == 1
    again = await _issue(client, headers, assessment(achievement_id=str(demo["badge:Conflict navigation"])))
    assert again["capstones"] == [] and taxonomy_traffic.count("/progress") == 1  # the capstone is held


async def test_a_change_in_the_taxonomy_shows_after_the_ttl(
    client, issuer_app, headers, issuer, taxonomy_app, taxonomy_traffic
):
    definition = {
        "name": "Escalation handling",
        "criteria_narrative": "Handles an escalated call end to end.",
        "tier": "foundational",
        "result_description": {"kind": "score", "pass_mark": 60, "max_score": 100},
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://t") as taxonomy:
        created = await taxonomy.post("/v1/achievements", json=definition, headers=idempotent(headers))
        assert created.status_code == 201, created.text
        achievement_id = created.json()["id"]
        body = {
            "learner": {"hris_id": "E-77"},
            "achievement_id": achievement_id,
            "issuer_id": issuer["id"],
            "score": 70,
            "evidence": {"urls": [], "narrative": "Observed."},
            "completed_at": "2026-01-15T09:30:00Z",
        }
        issuer_app.state.taxonomy.cache_ttl_seconds = SHORT_TTL
        first = await _issue(client, headers, body)
        assert first["credential"]["credential"]["name"] == "Escalation handling"
        renamed = await taxonomy.put(
            f"/v1/achievements/{achievement_id}",
            json={
                **definition,
                "name": "Escalation handling (revised)",
                "result_description": {"kind": "score", "pass_mark": 80, "max_score": 100},
            },
            headers=headers,
        )
        assert renamed.status_code == 200, renamed.text
    await asyncio.sleep(SHORT_TTL + 0.05)
    refused = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert refused.status_code == 422 and "pass mark 80" in refused.json()["detail"]
    passed = await _issue(client, headers, {**body, "score": 90})
    assert passed["credential"]["credential"]["name"] == "Escalation handling (revised)"
    statuses = collections.Counter(status for path, status in taxonomy_traffic.seen if achievement_id in path)
    assert statuses[200] >= 4  # both reads before the change, both after it (new ETags)


async def test_a_token_without_taxonomy_read_is_refused_even_when_the_cache_is_warm(
    client, headers, bearer, org, assessment
):
    await _issue(client, headers, assessment())
    platform = bearer(org, "assessments:write")
    response = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(platform))
    assert response.status_code == 403 and "taxonomy:read" in response.json()["detail"]


async def test_concurrent_reads_of_a_stale_entry_make_one_request(taxonomy_traffic, headers, demo):
    async with httpx.AsyncClient(transport=taxonomy_traffic, base_url="http://taxonomy.test") as http:
        client = TaxonomyClient(http, cache_ttl_seconds=60)
        achievement_id = demo["badge:Active listening"]
        results = await asyncio.gather(
            *(client.achievement(achievement_id, headers["Authorization"]) for _ in range(20))
        )
        assert {result.definition["id"] for result in results} == {str(achievement_id)}
        assert taxonomy_traffic.count(f"/achievements/{achievement_id}") == 2  # definition and public OB 3.0
        # A failure reaches every waiter, and is not remembered.
        missing = uuid.uuid4()
        outcomes = await asyncio.gather(
            *(client.achievement(missing, headers["Authorization"]) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(outcome, NotFound) for outcome in outcomes)
        assert taxonomy_traffic.count(f"/achievements/{missing}") == 1
        with pytest.raises(NotFound):
            await client.achievement(missing, headers["Authorization"])
        assert taxonomy_traffic.count(f"/achievements/{missing}") == 2


async def test_a_ttl_of_zero_revalidates_every_read_by_etag(taxonomy_traffic, headers, demo):
    async with httpx.AsyncClient(transport=taxonomy_traffic, base_url="http://taxonomy.test") as http:
        client = TaxonomyClient(http, cache_ttl_seconds=0)
        achievement_id = demo["badge:Active listening"]
        for _ in range(3):
            await client.achievement(achievement_id, headers["Authorization"])
    statuses = [status for path, status in taxonomy_traffic.seen if path == f"/v1/achievements/{achievement_id}"]
    assert statuses == [200, 304, 304]


async def test_each_read_gets_its_own_copy(taxonomy_traffic, headers, demo):
    async with httpx.AsyncClient(transport=taxonomy_traffic, base_url="http://taxonomy.test") as http:
        client = TaxonomyClient(http, cache_ttl_seconds=60)
        achievement_id = demo["badge:Active listening"]
        first = await client.achievement(achievement_id, headers["Authorization"])
        first.ob3["name"] = "altered by a caller"
        first.definition["result_description"]["pass_mark"] = 0
        second = await client.achievement(achievement_id, headers["Authorization"])
    assert second.ob3["name"] != "altered by a caller"
    assert second.definition["result_description"]["pass_mark"] == 70


def test_a_decoded_status_list_is_remembered_by_its_text():
    bits = Bitstring()
    clean = bits.encode()
    bits.set(42)
    revoked = bits.encode()
    assert decode_cached(clean) is decode_cached(clean)
    assert not decode_cached(clean).get(42) and decode_cached(revoked).get(42)
    assert decode_cached(clean, max_bytes=1 << 20) is not decode_cached(clean)


async def test_verification_sees_a_revocation_at_once(client, headers, assessment):
    issued = (await _issue(client, headers, assessment()))["credential"]
    for _ in range(2):  # the second is served from the remembered signed list
        verified = (await client.post("/v1/verify", json=issued["credential"])).json()
        assert verified["verified"] is True, verified["failures"]
    revoked = await client.post(
        f"/v1/credentials/{issued['id']}/revoke", json={"reason": "issued in error"}, headers=headers
    )
    assert revoked.status_code == 200, revoked.text
    after = (await client.post("/v1/verify", json=issued["credential"])).json()
    assert after["verified"] is False
    assert [check["outcome"] for check in after["checks"] if check["check"] == "status"] == ["failed"]
    other = (await _issue(client, headers, assessment(learner={"hris_id": "E-2"})))["credential"]
    assert (await client.post("/v1/verify", json=other["credential"])).json()["verified"] is True


async def test_a_revocation_through_another_replica_shows_within_the_revision_ttl(
    client, headers, assessment, issuer_app
):
    issued = (await _issue(client, headers, assessment()))["credential"]
    assert (await client.post("/v1/verify", json=issued["credential"])).json()["verified"] is True
    # Another replica revokes: the row and the list's revision change in the database, not through
    # this process (which would forget its signed copy at once).
    async with issuer_app.state.database.sessions() as session:
        await session.execute(
            update(Credential).where(Credential.id == uuid.UUID(issued["id"])).values(revoked_at=utcnow())
        )
        await session.execute(
            update(StatusList)
            .where(StatusList.id == uuid.UUID(issued["status"]["status_list_url"].rsplit("/", 1)[1]))
            .values(revision=StatusList.revision + 1)
        )
        await session.commit()
    await asyncio.sleep(SHORT_TTL + 0.05)
    after = (await client.post("/v1/verify", json=issued["credential"])).json()
    assert after["verified"] is False and any(failure.startswith("status") for failure in after["failures"])


class ClosedOnceTransport(CountingTransport):
    """The first request finds its connection closed by the server (as after a keep-alive timeout)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.seen:
            self.seen.append((request.url.path, 0))
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return await super().handle_async_request(request)


async def test_a_connection_closed_by_taxonomy_api_is_retried_once(taxonomy_app, headers, demo):
    transport = ClosedOnceTransport(taxonomy_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://taxonomy.test") as http:
        client = TaxonomyClient(http, cache_ttl_seconds=60)
        achievement = await client.achievement(demo["badge:Active listening"], headers["Authorization"])
    assert achievement.definition["id"] == str(demo["badge:Active listening"])
    assert [status for _, status in transport.seen][:2] == [0, 200]
