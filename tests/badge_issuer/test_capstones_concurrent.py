"""The two steps of a pathway completed at the same moment (two requests, as on two replicas): each
transaction sees only its own step under READ COMMITTED, so without a lock neither awards the capstone
(found by tests/cluster: 25 capstones for 30 learners on PostgreSQL). Exactly one must."""

import asyncio

STEPS = ("badge:Active listening", "badge:Conflict navigation")
LEARNERS = 12


async def test_steps_completed_at_once_award_the_capstone_once(client, headers, demo, issuer):
    async def post(learner: str, step: str) -> dict:
        body = {
            "learner": {"hris_id": learner},
            "achievement_id": str(demo[step]),
            "issuer_id": issuer["id"],
            "score": 90,
            "completed_at": "2026-01-15T09:30:00Z",
            "proof_format": "vc-jwt",
        }
        response = await client.post(
            "/v1/assessment-results", json=body, headers={**headers, "Idempotency-Key": f"{learner}:{step}"}
        )
        assert response.status_code == 201, response.text
        return response.json()

    answers = await asyncio.gather(*(post(f"E-RACE-{n}", step) for n in range(LEARNERS) for step in STEPS))
    capstones = [capstone for answer in answers for capstone in answer["capstones"]]
    assert len(capstones) == LEARNERS
    assert len({capstone["id"] for capstone in capstones}) == LEARNERS
