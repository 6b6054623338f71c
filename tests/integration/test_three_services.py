"""taxonomy → issuer → webhook → gap engine, with the three real apps served by uvicorn on loopback
ports and nothing in between but HTTP: the issuer's own outbox worker delivers the signed
credential.issued event, and the gap engine's report shows the level it verified for itself. No admin
trusts the issuer: it is the organisation's own, so its first delivery trusts it (origin "own").

The services get databases of their own (not the session's shared ones), so the issuer's worker
has no other test's pending deliveries to send.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from tests.live_platform import build_platform, migrated_databases, serving_platform

DELIVERY_SECONDS = 10.0


@pytest.fixture
def own_databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    with migrated_databases(tmp_path, "it") as urls:
        yield urls


async def _seed_organisation(app) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:  # noqa: ANN001
    """A new organisation with the demo taxonomy, written before the app starts serving; the engine is
    disposed so the server's event loop opens its own connections."""
    async with app.state.database.sessions() as session:
        organisation = await organisations.create_organisation(session, f"it-{uuid.uuid4().hex[:10]}")
        ids = await seed_demo_taxonomy(session, organisation.id)
        await session.commit()
    await app.state.database.dispose()
    return organisation.id, ids


def _ok(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def test_an_assessment_at_the_issuer_reaches_the_gap_report_through_the_webhook(
    own_databases, auth_key_file, bearer
):
    platform = build_platform(own_databases, auth_key_file)
    org, demo = await _seed_organisation(platform.taxonomy)
    headers = bearer(org)

    with serving_platform(platform):
        taxonomy_url, issuer_url, gap_url = (platform.urls[s] for s in ("taxonomy_api", "badge_issuer", "gap_engine"))
        async with httpx.AsyncClient(headers=headers, timeout=10.0) as http:
            roles = _ok(await http.get(f"{taxonomy_url}/v1/roles"), 200)["items"]
            role_id = next(role["id"] for role in roles if role["name"] == "Project Manager")
            body = {"name": "CredStack Academy", "url": "https://academy.credstack.example", "email": "b@x.example"}
            issuer = _ok(await http.post(f"{issuer_url}/v1/issuers", json=body), 201)

            source_id = str(uuid.uuid4())
            hook = f"{gap_url}/v1/webhooks/issuer/{source_id}"
            subscription = _ok(await http.post(f"{issuer_url}/v1/webhook-subscriptions", json={"url": hook}), 201)
            source = {"id": source_id, "name": "academy", "secret": subscription["secret"]}
            assert _ok(await http.post(f"{gap_url}/v1/webhook-sources", json=source), 201)["webhook_path"] in hook
            _ok(await http.put(f"{gap_url}/v1/employees/E-1001", json={"name": "Ada", "target_role_id": role_id}), 201)
            _ok(await http.post(f"{gap_url}/v1/roles/{role_id}/sync"), 200)

            skill_id = str(demo["Active listening"])
            gap = f"{gap_url}/v1/employees/E-1001/gap"
            before = _ok(await http.get(gap), 200)
            assert next(r["verified_level"] for r in before["requirements"] if r["skill_id"] == skill_id) is None

            result = {
                "learner": {"hris_id": "E-1001", "email": "ada@example.com"},
                "achievement_id": str(demo["badge:Active listening"]),
                "issuer_id": issuer["id"],
                "score": 86,
                "completed_at": "2026-01-15T09:30:00Z",
            }
            issued = await http.post(
                f"{issuer_url}/v1/assessment-results", json=result, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            _ok(issued, 201)

            # The issuer's worker polls every second; bounded wait for the delivery's effect.
            deadline = time.monotonic() + DELIVERY_SECONDS
            while True:
                report = _ok(await http.get(gap), 200)
                level = next(r["verified_level"] for r in report["requirements"] if r["skill_id"] == skill_id)
                if level is not None or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert level == 1, f"no verified level after {DELIVERY_SECONDS} s: {report}"
            assert report["readiness"] > before["readiness"]
            received = _ok(await http.get(f"{gap_url}/v1/employees/E-1001/credentials"), 200)["items"]
            assert [(item["status"], item["issuer_id"]) for item in received] == [("verified", issuer["did"])]
            registry = _ok(await http.get(f"{gap_url}/v1/trusted-issuers"), 200)["items"]
            assert [(t["issuer_id"], t["origin"], t["issuer_ref"]) for t in registry] == [
                (issuer["did"], "own", issuer["id"])
            ]
