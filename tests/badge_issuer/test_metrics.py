"""The issuer's /metrics moves with the work: issuance by format and outcome with its latency,
verification by format and verdict with its latency, and the outbox's backlog read from the database."""

import copy
import json
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.db.tables import OutboxEvent, WebhookDelivery
from shared.db import utcnow
from tests.badge_issuer.conftest import idempotent
from tests.badge_issuer.test_api_webhooks import deliver, receiver, subscribe  # noqa: F401
from tests.conftest import asgi_client
from tests.metrics import MetricsReader


async def test_issuance_is_counted_by_format_and_outcome(client, headers, assessment):
    metrics = MetricsReader(client)
    before = await metrics.read()

    key = uuid.uuid4().hex

    async def post(body: dict, idempotency_key: str | None = None):  # noqa: ANN202
        return await client.post("/v1/assessment-results", json=body, headers=idempotent(headers, idempotency_key))

    first, again = await post(assessment(), key), await post(assessment(), key)
    jwt = await post(assessment(proof_format="vc-jwt"))
    low = await post(assessment(score=40))
    stranger = await post(assessment(issuer_id=str(uuid.uuid4())))
    assert [r.status_code for r in (first, again, jwt, low, stranger)] == [201, 201, 201, 422, 404]
    items = [
        {**assessment(learner={"hris_id": "E-2001", "email": "b@example.com"}), "idempotency_key": uuid.uuid4().hex},
        {**assessment(score=10), "idempotency_key": uuid.uuid4().hex},
        {**assessment(), "idempotency_key": key},  # the single POST's key: a replay
    ]
    bulk = await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)
    assert [item["outcome"] for item in bulk.json()["items"]] == ["issued", "refused", "issued"]

    after = await metrics.read()
    issued = "credstack_credentials_issued_total"
    assert after.delta(before, issued, format="data-integrity", outcome="issued") == 2
    assert after.delta(before, issued, format="vc-jwt", outcome="issued") == 1
    assert after.delta(before, issued, format="data-integrity", outcome="replayed") == 2
    assert after.delta(before, issued, format="none", outcome="refused") == 2
    assert after.delta(before, issued, format="none", outcome="failed") == 1
    latency = "credstack_issuance_duration_seconds_count"
    assert after.delta(before, latency, format="data-integrity") == 2  # replays sign nothing
    assert after.delta(before, latency, format="vc-jwt") == 1
    assert after.value("credstack_issuance_duration_seconds_sum", format="vc-jwt") > 0


async def test_verification_is_counted_by_format_and_verdict(client, headers, assessment):
    issued = (await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))).json()[
        "credential"
    ]
    tampered = copy.deepcopy(issued["credential"])
    tampered["credentialSubject"]["achievement"]["name"] = "Something else"
    metrics = MetricsReader(client)
    before = await metrics.read()

    for body in (issued["credential"], issued["credential"], tampered):
        assert (await client.post("/v1/verify", json=body)).status_code == 200
    pasted = json.dumps(issued["credential"])
    page = await client.post("/verify", data={"credential": pasted}, headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")

    after = await metrics.read()
    verdicts = "credstack_verifications_total"
    assert after.delta(before, verdicts, format="data-integrity", verdict="verified") == 3  # the page's too
    assert after.delta(before, verdicts, format="data-integrity", verdict="failed") == 1
    assert after.delta(before, "credstack_verification_duration_seconds_count", format="data-integrity") == 4


async def test_outbox_backlog_is_read_from_the_database(
    client,
    issuer_app,
    issuer_settings,
    headers,
    assessment,
    subscribe,  # noqa: F811
    deliver,  # noqa: F811
):
    metrics = MetricsReader(client)
    pending, age = "credstack_outbox_pending_deliveries", "credstack_outbox_oldest_pending_age_seconds"
    empty = await metrics.read()  # `deliver` set aside what other tests left pending
    assert (empty.value(pending), empty.value(age)) == (0, 0)

    await subscribe(headers, "hris")
    for _ in range(3):
        assert (await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))).is_success
    async with issuer_app.state.database.sessions() as session:
        oldest = await session.scalar(
            select(WebhookDelivery.event_id).where(WebhookDelivery.status == "pending").limit(1)
        )
        # As if the receiver had been down for ten minutes: the event waits since then.
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == oldest).values(created_at=utcnow() - timedelta(minutes=10))
        )
        await session.commit()
    behind = await metrics.read()
    assert behind.value(pending) == 3
    assert 600 <= behind.value(age) < 660
    # A second replica on the same database, which delivered nothing, reports the same backlog.
    async for replica in asgi_client(create_issuer_app(issuer_settings())):
        seen_by_replica = await MetricsReader(replica).read()
    assert seen_by_replica.value(pending) == 3 and 600 <= seen_by_replica.value(age) < 660

    assert await deliver() == 3
    caught_up = await metrics.read()
    assert (caught_up.value(pending), caught_up.value(age)) == (0, 0)


async def test_metrics_answer_when_the_database_is_away(issuer_settings):
    """A scrape during a database outage still answers: the backlog gauges keep their last value and
    each probe that failed is counted."""
    away = issuer_settings().model_copy(update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none"})
    app = create_issuer_app(away)
    async for client in asgi_client(app):
        scrape = await MetricsReader(client).read()
    assert scrape.value("credstack_background_events_total", event="metrics_probe_failed") == 2  # both gauges
