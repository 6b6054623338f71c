"""The learner's wallet: every credential the organisation issued them, paged by cursor, tenant-scoped."""

from tests.badge_issuer.conftest import idempotent


async def _issue(client, headers, body) -> dict:
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_wallet_pages_through_a_learners_credentials(client, headers, assessment, demo):
    issued = [await _issue(client, headers, assessment()) for _ in range(3)]
    completing = await _issue(client, headers, assessment(achievement_id=str(demo["badge:Conflict navigation"])))
    await _issue(client, headers, assessment(learner={"hris_id": "E-9999"}))
    expected = [item["credential"]["id"] for item in [*issued, completing]] + [completing["capstones"][0]["id"]]

    seen, cursor, pages = [], None, 0
    while True:
        params = {"learner": "E-1001", "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/credentials", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    first = (await client.get("/v1/credentials", params={"learner": "E-1001"}, headers=headers)).json()
    assert first["items"][0]["id"] == issued[0]["credential"]["id"]
    assert first["items"][0]["status"]["revoked"] is False


async def test_the_wallet_finds_an_email_only_learner_and_shows_revocations(client, headers, assessment):
    issued = await _issue(client, headers, assessment(learner={"email": "Noor@Example.com"}))
    credential_id = issued["credential"]["id"]
    await client.post(f"/v1/credentials/{credential_id}/revoke", json={"reason": "withdrawn"}, headers=headers)
    wallet = (await client.get("/v1/credentials", params={"learner": "noor@example.COM"}, headers=headers)).json()
    [item] = wallet["items"]
    assert item["id"] == credential_id and item["status"]["revoked"] is True
    etag = (await client.get("/v1/credentials", params={"learner": "noor@example.com"}, headers=headers)).headers[
        "etag"
    ]
    cached = await client.get(
        "/v1/credentials", params={"learner": "noor@example.com"}, headers={**headers, "If-None-Match": etag}
    )
    assert cached.status_code == 304


async def test_the_wallet_is_scoped_validated_and_needs_the_scope(client, headers, bearer, org, assessment, new_org):
    await _issue(client, headers, assessment())
    intruder_org, _ = await new_org("intruder")
    intruder = await client.get("/v1/credentials", params={"learner": "E-1001"}, headers=bearer(intruder_org))
    assert intruder.status_code == 200 and intruder.json() == {"items": [], "next_cursor": None}
    # Without a learner: the organisation's credentials (what the gap engine reconciles), never another's.
    everything = (await client.get("/v1/credentials", headers=headers)).json()["items"]
    assert everything and all(item["issuer_id"] for item in everything)
    assert (await client.get("/v1/credentials", headers=bearer(intruder_org))).json()["items"] == []
    naive = await client.get("/v1/credentials", params={"issued_since": "2026-01-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422
    future = await client.get("/v1/credentials", params={"issued_since": "2999-01-01T00:00:00Z"}, headers=headers)
    assert future.json()["items"] == []
    bad_cursor = await client.get("/v1/credentials", params={"learner": "E-1001", "cursor": "nope"}, headers=headers)
    assert bad_cursor.status_code == 422
    writer = bearer(org, "assessments:write")
    assert (await client.get("/v1/credentials", params={"learner": "E-1001"}, headers=writer)).status_code == 403
