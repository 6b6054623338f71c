"""The public verifier's rate limit is for the public: a caller with an access token (the gap engine,
an HRIS) is counted per organisation against its own budget, and a bad token is refused, not
treated as anonymous."""

import uuid

import httpx

from services.badge_issuer.app import create_app as create_issuer_app
from shared.rate_limit import SharedWindowLimiter


async def test_authenticated_callers_do_not_spend_the_public_budget(client, issuer_app, headers, bearer, org):
    run = uuid.uuid4().hex  # budgets of this test only: the database is the session's
    issuer_app.state.public_limiter = SharedWindowLimiter(2, budget=f"public-{run}")
    issuer_app.state.authenticated_limiter = SharedWindowLimiter(5, budget=f"organisation-{run}")
    body = {"jwt": "not-a-jwt"}
    anonymous = [(await client.post("/v1/verify", json=body)).status_code for _ in range(3)]
    assert anonymous[2] == 429 and 429 not in anonymous[:2]
    limited = await client.post("/v1/verify", json=body)
    assert 1 <= int(limited.headers["retry-after"]) <= 60 and limited.json()["retry_after"] == int(
        limited.headers["retry-after"]
    )

    service = bearer(org, "credentials:read")
    authenticated = [(await client.post("/v1/verify", json=body, headers=service)).status_code for _ in range(6)]
    assert 429 not in authenticated[:5] and authenticated[5] == 429  # its own, per-organisation budget

    forged = await client.post("/v1/verify", json=body, headers={"Authorization": "Bearer forged.token.here"})
    assert forged.status_code == 401


async def test_two_issuer_instances_on_one_database_share_one_public_budget(issuer_settings, issuer_app):
    """Two replicas (two apps, two engines, one database): the public budget is spent once between them,
    so alternating replicas never doubles it."""
    budget = f"public-{uuid.uuid4().hex}"
    second_app = create_issuer_app(issuer_settings())
    apps = [issuer_app, second_app]
    for app in apps:
        app.state.public_limiter = SharedWindowLimiter(7, budget=budget)
    body = {"jwt": "not-a-jwt"}
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=issuer_app), base_url="http://one") as one,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second_app), base_url="http://two") as two,
    ):
        answers = [await (one, two)[i % 2].post("/v1/verify", json=body) for i in range(12)]
    await second_app.state.database.dispose()
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200] * 7 + [429] * 5
    assert all(1 <= int(answer.headers["retry-after"]) <= 60 for answer in answers[7:])
