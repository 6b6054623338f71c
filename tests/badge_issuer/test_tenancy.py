"""Another organisation's token never reaches this organisation's issuers or credentials, on any route."""

from tests.badge_issuer.conftest import idempotent
from tests.tenancy import TenantWalk, authenticated_routes, walk_every_authenticated_route


async def test_every_authenticated_route_is_scoped_to_the_callers_organisation(
    client, issuer_app, headers, bearer, org, issuer, assessment, new_org
):
    intruder_org, _ = await new_org("intruder")
    issued = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    assert issued.status_code == 201, issued.text
    credential_id = issued.json()["credential"]["id"]
    subscription = await client.post(
        "/v1/webhook-subscriptions", json={"url": "https://hris.owner.example/hooks"}, headers=headers
    )
    assert subscription.status_code == 201, subscription.text
    subscription_id = subscription.json()["id"]
    reissued = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    assert reissued.status_code == 201, reissued.text  # an event owed to the subscription: a delivery
    listed = await client.get(f"/v1/webhook-subscriptions/{subscription_id}/deliveries", headers=headers)
    [delivery] = listed.json()["items"]
    wallet_link = await client.post("/v1/wallet-links", json={"learner_hris_id": "E-1001"}, headers=headers)
    assert wallet_link.status_code == 201, wallet_link.text
    issuer_id = issuer["id"]
    path_params = {
        "/v1/issuers/{issuer_id}": {"issuer_id": issuer_id},
        "/v1/issuers/{issuer_id}/keys/rotate": {"issuer_id": issuer_id},
        "/v1/issuers/{issuer_id}/keys/{key_id}/revoke": {"issuer_id": issuer_id, "key_id": issuer["keys"][0]["id"]},
        "/v1/credentials/{credential_id}": {"credential_id": credential_id},
        "/v1/credentials/{credential_id}/revoke": {"credential_id": credential_id},
        "/v1/wallet-links/{link_id}/revoke": {"link_id": wallet_link.json()["id"]},
        "/v1/webhook-subscriptions/{subscription_id}": {"subscription_id": subscription_id},
        "/v1/webhook-subscriptions/{subscription_id}/deliveries": {"subscription_id": subscription_id},
        "/v1/webhook-subscriptions/{subscription_id}/deliveries/replay": {"subscription_id": subscription_id},
        "/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/replay": {
            "subscription_id": subscription_id,
            "delivery_id": delivery["id"],
        },
    }
    bodies = {
        ("POST", "/v1/issuers"): {"name": "Intruder issuer"},
        ("POST", "/v1/assessment-results"): assessment(),
        ("POST", "/v1/assessment-results/bulk"): {"items": [{**assessment(), "idempotency_key": "intruder-1"}]},
        ("POST", "/v1/credentials/{credential_id}/revoke"): {"reason": "intruder"},
        ("POST", "/v1/issuers/{issuer_id}/keys/{key_id}/revoke"): {"reason": "intruder"},
        ("POST", "/v1/webhook-subscriptions"): {"url": "https://intruder.example/hooks"},
        ("POST", "/v1/wallet-links"): {"learner_hris_id": "E-1001"},
        ("POST", "/v1/internal/credentials/verify"): {"ids": [credential_id]},
    }
    markers = {str(org), issuer_id, issuer["did"], credential_id, issuer["keys"][0]["kid"], "E-1001"}
    markers |= {subscription_id, "hris.owner.example", delivery["id"], delivery["event_id"]}
    markers |= {wallet_link.json()["id"], wallet_link.json()["url"]}

    walked = await walk_every_authenticated_route(
        client,
        issuer_app,
        TenantWalk(
            owner_headers=headers,
            intruder_headers=bearer(intruder_org),
            path_params=path_params,
            bodies=bodies,
            owner_markers=markers,
            owner_objects=[f"/v1/issuers/{issuer_id}", f"/v1/credentials/{credential_id}"],
        ),
    )
    assert walked == len(authenticated_routes(issuer_app)) >= 9
    owner_view = (await client.get(f"/v1/credentials/{credential_id}", headers=headers)).json()
    assert owner_view["status"]["revoked"] is False
    keys_after = (await client.get(f"/v1/issuers/{issuer_id}", headers=headers)).json()["keys"]
    assert [key["kid"] for key in keys_after] == [issuer["keys"][0]["kid"]]
    owner_subscriptions = (await client.get("/v1/webhook-subscriptions", headers=headers)).json()["items"]
    assert [item["id"] for item in owner_subscriptions] == [subscription_id]
    shared = await client.get(wallet_link.json()["url"].split("8002", 1)[1])
    assert shared.status_code == 200  # the intruder's revocation did not reach the owner's link


async def test_an_intruder_cannot_issue_with_another_organisations_issuer(client, bearer, assessment, new_org):
    intruder_org, intruder_demo = await new_org("intruder")
    body = assessment(achievement_id=str(intruder_demo["badge:Active listening"]))
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(bearer(intruder_org)))
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No issuer")
