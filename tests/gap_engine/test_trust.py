"""Who is trusted and how much: the organisation's own issuers are trusted automatically (through the
webhook, or an HRIS post whose token may list the issuers), across a did:key rotation; an issuer's
weight is carried by every fact derived from its credentials, so changing it, distrusting and
trusting again change the gap report without anything being posted again.

Demo: Project Manager needs Active listening 2 (must); the "Active listening" badge certifies level 1.
"""

import uuid

import pytest

from tests.gap_engine.test_credentials import _listening, _post, _trust
from tests.gap_engine.test_webhooks import _deliver, _event, _issue, _setup


async def _registry(client, headers) -> list[dict]:
    return (await client.get("/v1/trusted-issuers", headers=headers)).json()["items"]


async def test_the_own_issuer_is_trusted_from_its_webhook_and_across_a_key_rotation(
    client, issuer_client, issuer_app, headers, org, roles, demo
):
    issuer, secret, path = await _setup(client, issuer_client, headers, roles)
    await _issue(issuer_client, headers, demo, issuer)
    response = await _deliver(client, path, secret, await _event(issuer_app, org, "credential.issued"))
    assert response.status_code == 202 and response.json()["outcome"] == "received: verified", response.text
    [own] = await _registry(client, headers)
    assert (own["issuer_id"], own["origin"], own["issuer_ref"], own["weight"], own["trusted"]) == (
        issuer["did"],
        "own",
        issuer["id"],
        1.0,
        True,
    )
    assert (await _listening(client, headers, "E-1001", demo))[0] == 1

    patched = await client.patch(f"/v1/trusted-issuers/{own['id']}", json={"weight": 0.5}, headers=headers)
    assert patched.status_code == 200 and patched.json()["weight"] == 0.5
    rotated = await issuer_client.post(f"/v1/issuers/{issuer['id']}/keys/rotate", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new_did = rotated.json()["did"]
    assert new_did != issuer["did"]  # did:key: a new key is a new DID
    await _issue(issuer_client, headers, demo, issuer)
    response = await _deliver(client, path, secret, await _event(issuer_app, org, "credential.issued"))
    assert response.json()["outcome"] == "received: verified"
    registry = await _registry(client, headers)
    assert sorted((t["issuer_id"], t["issuer_ref"], t["weight"]) for t in registry) == sorted(
        [(issuer["did"], issuer["id"], 0.5), (new_did, issuer["id"], 0.5)]
    )
    assert (await _listening(client, headers, "E-1001", demo))[0] == 0.5

    # Distrusting the issuer (under either DID) distrusts all of it, and a new delivery does not undo that.
    assert (await client.delete(f"/v1/trusted-issuers/{own['id']}", headers=headers)).status_code == 204
    assert [t["trusted"] for t in await _registry(client, headers)] == [False, False]
    await _issue(issuer_client, headers, demo, issuer)
    response = await _deliver(client, path, secret, await _event(issuer_app, org, "credential.issued"))
    assert response.json()["outcome"] == "received: issuer_not_trusted"
    assert (await _listening(client, headers, "E-1001", demo))[0] is None

    retrusted = await client.post("/v1/trusted-issuers", json={"issuer_id": new_did, "weight": 0.75}, headers=headers)
    assert retrusted.status_code == 201 and retrusted.json()["origin"] == "own", retrusted.text
    assert {(t["trusted"], t["weight"]) for t in await _registry(client, headers)} == {(True, 0.75)}
    assert (await _listening(client, headers, "E-1001", demo))[0] == 0.75
    statuses = [
        c["status"] for c in (await client.get("/v1/employees/E-1001/credentials", headers=headers)).json()["items"]
    ]
    assert statuses == ["verified"] * 3


async def test_an_hris_post_of_an_own_issuers_credential_trusts_it_when_the_token_may_list_issuers(
    client, issuer_client, headers, bearer, org, roles, demo
):
    issuer, _, _ = await _setup(client, issuer_client, headers, roles)
    hris_only = bearer(org, "hris:write", "taxonomy:read", "gaps:read")
    issued = await _issue(issuer_client, headers, demo, issuer)
    waiting = await _post(client, hris_only, "E-1001", issued["credential"])
    assert waiting["status"] == "issuer_not_trusted" and await _registry(client, headers) == []

    listing = bearer(org, "hris:write", "taxonomy:read", "credentials:read")
    issued = await _issue(issuer_client, headers, demo, issuer)
    counted = await _post(client, listing, "E-1001", issued["credential"])
    assert counted["status"] == "verified"
    [own] = await _registry(client, headers)
    assert (own["origin"], own["issuer_ref"]) == ("own", issuer["id"])
    # Trusting the issuer promoted the credential that was waiting, too.
    statuses = [
        c["status"] for c in (await client.get("/v1/employees/E-1001/credentials", headers=headers)).json()["items"]
    ]
    assert statuses == ["verified", "verified"]


async def test_the_weight_follows_the_registry_into_the_gap_report(client, issuer_client, headers, roles, demo):
    issuer, _, _ = await _setup(client, issuer_client, headers, roles)
    before = await _listening(client, headers, "E-1001", demo)
    trusted = await _trust(client, headers, issuer["did"])
    issued = await _issue(issuer_client, headers, demo, issuer)
    await _post(client, headers, "E-1001", issued["credential"])
    full = await _listening(client, headers, "E-1001", demo)
    assert full[0] == 1 and full[1] > before[1]

    url = f"/v1/trusted-issuers/{trusted['id']}"
    response = await client.patch(url, json={"weight": 0.25, "note": "partner-grade assessments"}, headers=headers)
    assert response.status_code == 200
    assert (response.json()["weight"], response.json()["note"]) == (0.25, "partner-grade assessments")
    quarter = await _listening(client, headers, "E-1001", demo)
    assert quarter[0] == 0.25 and before[1] < quarter[1] < full[1]
    skills = (await client.get("/v1/employees/E-1001/skills", headers=headers)).json()["skills"]
    assert [c["credential_id"] for s in skills for c in s["credentials"]] == [issued["credential"]["id"]]

    note_only = await client.patch(url, json={"note": None}, headers=headers)
    assert note_only.status_code == 200 and note_only.json()["weight"] == 0.25
    for bad in ({"weight": 0}, {"weight": 1.5}, {"weight": -1}, {"weight": "heavy"}):
        assert (await client.patch(url, json=bad, headers=headers)).status_code == 422
    assert (
        await client.patch(f"/v1/trusted-issuers/{uuid.uuid4()}", json={"weight": 0.5}, headers=headers)
    ).status_code == 404

    assert (await client.delete(url, headers=headers)).status_code == 204
    assert await _listening(client, headers, "E-1001", demo) == before
    assert await _registry(client, headers) == []
    await _trust(client, headers, issuer["did"], weight=0.5)
    assert (await _listening(client, headers, "E-1001", demo))[0] == pytest.approx(0.5)


async def test_only_an_admin_changes_the_registry(client, bearer, org):
    reader = bearer(org, "gaps:read", "hris:write")
    url = f"/v1/trusted-issuers/{uuid.uuid4()}"
    assert (await client.patch(url, json={"weight": 0.5}, headers=reader)).status_code == 403
    assert (await client.post("/v1/taxonomy/refresh", headers=reader)).status_code == 403
