"""Intake of the organisation's own credentials asks the issuer through its authenticated batch route:
one request per announced credential, none to the public (rate-limited) POST /v1/verify or public URL."""

import uuid

from tests.gap_engine.conftest import api_client_of
from tests.gap_engine.test_credentials import _listening, _trust
from tests.gap_engine.test_webhooks import _deliver, _event, _issue, _setup


async def test_a_signed_in_sources_delivery_is_read_and_verified_in_one_authenticated_request(
    client, gap_app, issuer_client, issuer_app, taxonomy_app, headers, org, roles, demo
):
    issuer, _, _ = await _setup(client, issuer_client, headers, roles)
    api_client = await api_client_of(taxonomy_app, headers)
    subscription = await issuer_client.post(
        "/v1/webhook-subscriptions", json={"url": "https://gap.credstack.test/signed-in"}, headers=headers
    )
    secret = subscription.json()["secret"]
    source = await client.post(
        "/v1/webhook-sources",
        json={"name": "signed in", "secret": secret, **{k: api_client[k] for k in ("client_id", "client_secret")}},
        headers=headers,
    )
    assert source.status_code == 201, source.text
    await _trust(client, headers, issuer["did"])
    await _issue(issuer_client, headers, demo, issuer)

    asked: list[tuple[str, str, bool]] = []

    async def record(request) -> None:  # noqa: ANN001
        asked.append((request.method, request.url.path, "authorization" in request.headers))

    gap_app.state.verifier.http.event_hooks["request"].append(record)
    event = await _event(issuer_app, org, "credential.issued")
    response = await _deliver(client, source.json()["webhook_path"], secret, event)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "received: verified"
    assert asked == [("POST", "/v1/internal/credentials/verify", True)]
    assert (await _listening(client, headers, "E-1001", demo))[0] == 1


async def test_a_credential_of_another_organisation_named_by_an_event_is_not_taken_in(
    client, gap_app, issuer_client, issuer_app, taxonomy_app, headers, bearer, new_org, org, roles, demo
):
    """The batch route finds only the token's organisation's credentials: an event (validly signed with
    this source's secret) naming another organisation's credential gets nothing from the issuer."""
    issuer, _, _ = await _setup(client, issuer_client, headers, roles)
    api_client = await api_client_of(taxonomy_app, headers)
    subscription = await issuer_client.post(
        "/v1/webhook-subscriptions", json={"url": "https://gap.credstack.test/other"}, headers=headers
    )
    secret = subscription.json()["secret"]
    source = await client.post(
        "/v1/webhook-sources",
        json={"name": "signed in", "secret": secret, **{k: api_client[k] for k in ("client_id", "client_secret")}},
        headers=headers,
    )
    await _issue(issuer_client, headers, demo, issuer)
    event = await _event(issuer_app, org, "credential.issued")
    other, other_demo = await new_org("other")
    other_headers = bearer(other)
    body = {"name": "Other Academy", "url": "https://other.example", "email": "b@other.example"}
    other_issuer = (await issuer_client.post("/v1/issuers", json=body, headers=other_headers)).json()
    other_credential = await _issue(issuer_client, other_headers, other_demo, other_issuer)
    event.id = f"msg_{uuid.uuid4().hex}"
    event.payload = {
        **event.payload,
        "data": {**event.payload["data"], "credential_url": other_credential["public_url"]},
    }
    response = await _deliver(client, source.json()["webhook_path"], secret, event)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"].startswith("ignored: the credential at ")
    listed = (await client.get("/v1/employees/E-1001/credentials", headers=headers)).json()["items"]
    assert listed == []
