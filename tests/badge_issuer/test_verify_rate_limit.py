"""The public verifier's rate limit is for the public: a caller with an access token (the gap engine,
an HRIS) is counted per organisation against its own budget, and a bad token is refused, not
treated as anonymous."""

from shared.rate_limit import FixedWindowLimiter


async def test_authenticated_callers_do_not_spend_the_public_budget(client, issuer_app, headers, bearer, org):
    issuer_app.state.public_limiter = FixedWindowLimiter(2)
    issuer_app.state.authenticated_limiter = FixedWindowLimiter(5)
    body = {"jwt": "not-a-jwt"}
    anonymous = [(await client.post("/v1/verify", json=body)).status_code for _ in range(3)]
    assert anonymous[2] == 429 and 429 not in anonymous[:2]
    limited = await client.post("/v1/verify", json=body)
    assert limited.headers.get("retry-after") == "60" or "retry" in limited.text.lower()

    service = bearer(org, "credentials:read")
    authenticated = [(await client.post("/v1/verify", json=body, headers=service)).status_code for _ in range(6)]
    assert 429 not in authenticated[:5] and authenticated[5] == 429  # its own, per-organisation budget

    forged = await client.post("/v1/verify", json=body, headers={"Authorization": "Bearer forged.token.here"})
    assert forged.status_code == 401
