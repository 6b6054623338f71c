"""Publication governs what the gap engine sees, with the three real apps on loopback: a change in the
draft never reaches the gap engine, even when it refreshes; publishing the next version makes the
taxonomy ask the gap engine to follow, and it does."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from tests.live_platform import build_platform, migrated_databases, serving_platform


@pytest.fixture
def own_databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    with migrated_databases(tmp_path, "pub") as urls:
        yield urls


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def test_the_gap_engine_follows_publications_and_never_the_draft(own_databases, auth_key_file, token_authority):
    platform = build_platform(own_databases, auth_key_file)
    async with platform.taxonomy.state.database.sessions() as session:
        org = (await organisations.create_organisation(session, f"pub-{uuid.uuid4().hex[:8]}")).id
        await seed_demo_taxonomy(session, org)
        await session.commit()
    await platform.taxonomy.state.database.dispose()

    def as_client(name: str) -> dict[str, str]:
        token = token_authority.issue(org_id=org, client_id=name, scopes=frozenset({"admin"}))
        return {"Authorization": f"Bearer {token}"}

    author, reviewer = as_client("hr-author"), as_client("council-reviewer")
    with serving_platform(platform):
        taxonomy, gap = platform.urls["taxonomy_api"], platform.urls["gap_engine"]
        async with httpx.AsyncClient(timeout=30.0) as http:
            role = next(
                r
                for r in _ok(await http.get(f"{taxonomy}/v1/roles", headers=author))["items"]
                if r["name"] == "Project Manager"
            )
            _ok(await http.post(f"{gap}/v1/roles/{role['id']}/sync", headers=author))

            async def publish(title: str) -> dict:
                version = _ok(
                    await http.post(f"{taxonomy}/v1/versions/draft/submit", json={"title": title}, headers=author), 201
                )
                review = {"decision": "approve"}
                _ok(
                    await http.post(f"{taxonomy}/v1/versions/{version['id']}/reviews", json=review, headers=reviewer),
                    201,
                )
                return _ok(await http.post(f"{taxonomy}/v1/versions/{version['id']}/publish", headers=reviewer))

            first = await publish("v1")
            assert first["gap_engine_refresh"].startswith("done: 1 roles re-read"), first["gap_engine_refresh"]

            requirement = role["requirements"][0]
            new_level = 1 if requirement["level"] != 1 else 2
            changed = {
                "name": role["name"],
                "requirements": [
                    {
                        **{k: r[k] for k in ("skill_id", "level", "weight", "criticality")},
                        **({"level": new_level} if i == 0 else {}),
                    }
                    for i, r in enumerate(role["requirements"])
                ],
            }
            _ok(await http.put(f"{taxonomy}/v1/roles/{role['id']}", json=changed, headers=author))
            _ok(await http.post(f"{gap}/v1/taxonomy/refresh", headers=author))

            def level_in_gap_engine(snapshot: dict) -> int:
                return next(
                    r["required_level"] for r in snapshot["requirements"] if r["skill_id"] == requirement["skill_id"]
                )

            snapshot = _ok(await http.get(f"{gap}/v1/roles/{role['id']}/requirements", headers=author))
            assert level_in_gap_engine(snapshot) == requirement["level"]  # the draft did not leak

            second = await publish("v2")
            assert second["gap_engine_refresh"].startswith("done"), second["gap_engine_refresh"]
            snapshot = _ok(await http.get(f"{gap}/v1/roles/{role['id']}/requirements", headers=author))
            assert level_in_gap_engine(snapshot) == new_level
