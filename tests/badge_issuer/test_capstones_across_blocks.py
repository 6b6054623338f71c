"""A capstone awarded in the same transaction as the step that completes its pathway, at the moment
the status list's reserved block of indexes runs out, must not wait on its own transaction's locks
(issue 15: on PostgreSQL such requests hung for ever and held their locks). With blocks of one index,
every issuance and every capstone needs a new block."""

import asyncio

import httpx

from services.badge_issuer.app import create_app as create_issuer_app
from tests.conftest import asgi_client

DEADLINE_SECONDS = 30


async def test_capstones_across_status_index_blocks_are_issued_without_waiting_on_themselves(
    issuer_settings, taxonomy_app, remote_web, headers, demo
):
    app = create_issuer_app(
        issuer_settings(status_index_block_size=1),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        fetch_transport=remote_web.transport,
        fetch_resolver=remote_web.resolve,
    )
    try:
        async for client in asgi_client(app):
            issuer = await client.post(
                "/v1/issuers",
                json={"name": "Block Academy", "url": "https://blocks.credstack.example", "email": "b@x.example"},
                headers=headers,
            )
            assert issuer.status_code == 201, issuer.text

            async def complete_pathway(learner: str, client=client, issuer_id=issuer.json()["id"]) -> list[dict]:
                answers = []
                for step in ("badge:Active listening", "badge:Conflict navigation"):
                    body = {
                        "learner": {"hris_id": learner},
                        "achievement_id": str(demo[step]),
                        "issuer_id": issuer_id,
                        "score": 90,
                        "completed_at": "2026-01-15T09:30:00Z",
                    }
                    response = await client.post(
                        "/v1/assessment-results",
                        json=body,
                        headers={**headers, "Idempotency-Key": f"{learner}-{step}"},
                    )
                    assert response.status_code == 201, response.text
                    answers.append(response.json())
                return answers

            learners = [f"E-BLK-{n}" for n in range(4)]
            results = await asyncio.wait_for(
                asyncio.gather(*(complete_pathway(learner) for learner in learners)), DEADLINE_SECONDS
            )
            capstones = [answer["capstones"] for answers in results for answer in answers if answer["capstones"]]
            assert len(capstones) == len(learners)
            indexes = [
                (credential["status"]["status_list_url"], credential["status"]["status_list_index"])
                for answers in results
                for answer in answers
                for credential in (answer["credential"], *answer["capstones"])
            ]
            assert len(indexes) == len(set(indexes)) == 3 * len(learners)
    finally:
        await app.state.taxonomy.http.aclose()
        await app.state.fetcher.aclose()
