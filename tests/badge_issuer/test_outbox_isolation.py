"""Webhook deliveries across organisations and replicas, over real loopback sockets: a hanging
endpoint holds one sending slot for at most the fetch timeout and never another organisation's
events, different learners' events to one subscription are in flight together while each learner's
stay in order, a failing subscription is backed off as a whole, deleting one never waits for its sends,
two workers on two engines deliver everything exactly once, and a crashed worker's lease lapses."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from services.badge_issuer.db.tables import WebhookSubscription
from services.badge_issuer.domain import outbox
from shared.db import Database, utcnow
from shared.safe_fetch import SafeFetcher
from tests.badge_issuer.conftest import LOOPBACK_FETCH_TIMEOUT_SECONDS, no_names
from tests.badge_issuer.loopback_endpoints import emit, emit_for_learners, owed, subscribe, wait_until

pytestmark = pytest.mark.anyio

FETCH_TIMEOUT_SECONDS = LOOPBACK_FETCH_TIMEOUT_SECONDS


@asynccontextmanager
async def running_worker(app: FastAPI, database: Database | None = None, **options: Any) -> AsyncIterator[None]:
    stop = asyncio.Event()
    sessions = (database or app.state.database).sessions
    http = SafeFetcher(app.state.webhook_http.policy, resolver=no_names)
    task = asyncio.create_task(outbox.run_worker(sessions, app.state.key_vault, http, stop, **options))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, FETCH_TIMEOUT_SECONDS + 5)
        await http.aclose()


async def test_a_hanging_endpoint_does_not_delay_another_organisations_delivery(
    loopback_issuer, loopback_client, bearer, endpoints
):
    hanging = await endpoints(hang=True)
    answering = await endpoints()
    stuck_org, other_org = uuid.uuid4(), uuid.uuid4()
    await subscribe(loopback_client, bearer(stuck_org), hanging.url("stuck"))
    await subscribe(loopback_client, bearer(other_org), answering.url("other"))
    await emit(loopback_issuer, stuck_org, 10)
    async with running_worker(loopback_issuer):
        await wait_until(lambda: hanging.connections >= 1, 5)
        emitted = time.monotonic()
        [event_id] = await emit(loopback_issuer, other_org, 1)
        await wait_until(lambda: bool(answering.received), 5)
        delay = answering.received[0].at - emitted
        # Ten events owed to the hanging endpoint, one POST at a time to it: not ten sockets.
        assert hanging.connections == 1
    assert [item.webhook_id for item in answering.received] == [event_id]
    # One poll interval (1 s) and the send; the hanging POST alone lasts 5 s, ten of them 50 s.
    assert delay < 2.5, f"the other organisation's event waited {delay:.2f} s"


async def test_deleting_a_subscription_while_its_delivery_hangs_answers_at_once(
    loopback_issuer, loopback_client, bearer, endpoints
):
    hanging = await endpoints(hang=True)
    org_id = uuid.uuid4()
    headers = bearer(org_id)
    subscription_id = await subscribe(loopback_client, headers, hanging.url("stuck"))
    await emit(loopback_issuer, org_id, 3)
    async with running_worker(loopback_issuer):
        await wait_until(lambda: hanging.connections >= 1, 5)
        started = time.monotonic()
        response = await loopback_client.delete(f"/v1/webhook-subscriptions/{subscription_id}", headers=headers)
        elapsed = time.monotonic() - started
    assert response.status_code == 204, response.text
    assert elapsed < 1.0, f"the delete waited {elapsed:.2f} s for a delivery in flight"
    # The hung POST's outcome, recorded after the delete, matched nothing: nothing is owed any more.
    assert await owed(loopback_issuer, subscription_id) == []


async def test_a_failing_subscription_is_backed_off_as_a_whole(loopback_issuer, loopback_client, bearer, endpoints):
    failing = await endpoints(status=503)
    org_id = uuid.uuid4()
    subscription_id = await subscribe(loopback_client, bearer(org_id), failing.url("down"))
    await emit(loopback_issuer, org_id, 10)
    state = loopback_issuer.state

    async def deliver(at) -> int:  # noqa: ANN001
        return await outbox.deliver_due(state.database.sessions, state.key_vault, state.webhook_http, now=at)

    start = utcnow()
    assert await deliver(start) == 1  # ten owed; the first failure backs the subscription off
    rows = await owed(loopback_issuer, subscription_id)
    assert sorted(row.attempts for row in rows) == [0] * 9 + [1]
    assert all(row.status == "pending" and row.lease_owner is None for row in rows)
    assert await deliver(start + timedelta(seconds=1)) == 0
    assert await deliver(start + timedelta(seconds=2)) == 1  # one probe per backoff
    assert failing.connections == 2
    failing.status = 204
    assert await deliver(start + timedelta(seconds=6)) == 10  # the endpoint is back: all of it goes
    rows = await owed(loopback_issuer, subscription_id)
    assert {row.status for row in rows} == {"delivered"} and len(failing.received) == 10


async def test_different_learners_events_are_in_flight_together_and_each_learners_in_order(
    loopback_issuer, loopback_client, bearer, endpoints
):
    endpoint = await endpoints(delay_seconds=0.15)
    org_id = uuid.uuid4()
    subscription_id = await subscribe(loopback_client, bearer(org_id), endpoint.url("lanes"))
    learners = [f"learner{n}@example.org" for n in range(8)]
    # Each learner's issuance, then a second event about them, as a revocation would follow it.
    event_ids = await emit_for_learners(loopback_issuer, org_id, learners + learners)
    state = loopback_issuer.state
    policy = outbox.DeliveryPolicy()
    attempted = await outbox.deliver_due(
        state.database.sessions, state.key_vault, state.webhook_http, policy=policy, limit=len(event_ids)
    )
    assert attempted == len(event_ids)
    assert endpoint.most_in_flight == policy.lanes  # not one POST at a time, and never more than the lanes
    arrivals = {item.webhook_id: item for item in endpoint.received}
    for first, second in zip(event_ids[: len(learners)], event_ids[len(learners) :], strict=True):
        # A learner's second event left only once their first had been answered.
        assert arrivals[second].arrived >= arrivals[first].at
    assert {row.status for row in await owed(loopback_issuer, subscription_id)} == {"delivered"}


async def test_a_failure_in_one_lane_stops_every_lane_and_gives_the_rest_back(
    loopback_issuer, loopback_client, bearer, endpoints
):
    endpoint = await endpoints(delay_seconds=0.1, fail_from=2)
    org_id = uuid.uuid4()
    subscription_id = await subscribe(loopback_client, bearer(org_id), endpoint.url("failing"))
    await emit_for_learners(loopback_issuer, org_id, [f"learner{n}@example.org" for n in range(12)])
    state = loopback_issuer.state
    policy = outbox.DeliveryPolicy(lanes=4)
    attempted = await outbox.deliver_due(state.database.sessions, state.key_vault, state.webhook_http, policy=policy)
    # The first POST alone (answered), then four lanes at once, all refused: none starts another.
    assert attempted == 5 == endpoint.connections
    rows = await owed(loopback_issuer, subscription_id)
    assert Counter((row.status, row.attempts) for row in rows) == {
        ("delivered", 1): 1,
        ("pending", 1): 4,
        ("pending", 0): 7,
    }
    assert all(row.lease_owner is None for row in rows)
    async with state.database.sessions() as session:
        subscription = await session.get(WebhookSubscription, uuid.UUID(subscription_id))
    assert subscription.consecutive_failures == 1 and subscription.backoff_until is not None


async def test_two_workers_on_two_engines_deliver_every_event_exactly_once(
    loopback_issuer, loopback_client, bearer, endpoints, database_urls
):
    endpoint = await endpoints(delay_seconds=0.01)
    subscriptions, expected = [], set()
    for index in range(4):
        org_id = uuid.uuid4()
        subscriptions.append(await subscribe(loopback_client, bearer(org_id), endpoint.url(f"org{index}")))
        expected |= {(f"/hooks/org{index}", event_id) for event_id in await emit(loopback_issuer, org_id, 15)}
    replicas = [Database(database_urls["badge_issuer"]) for _ in range(2)]
    policy = outbox.DeliveryPolicy(concurrency=3, per_subscription=2)
    try:
        async with (
            running_worker(loopback_issuer, replicas[0], policy=policy),
            running_worker(loopback_issuer, replicas[1], policy=policy),
        ):
            await wait_until(lambda: len(endpoint.received) >= len(expected), 30)
            await asyncio.sleep(0.3)  # a duplicate would arrive now
    finally:
        for replica in replicas:
            await replica.dispose()
    sent = Counter((item.path, item.webhook_id) for item in endpoint.received)
    assert set(sent) == expected
    assert [key for key, times in sent.items() if times > 1] == []
    for subscription_id in subscriptions:
        assert {(row.status, row.attempts) for row in await owed(loopback_issuer, subscription_id)} == {
            ("delivered", 1)
        }


async def test_a_crashed_workers_lease_is_taken_over_once_it_lapses(
    loopback_issuer, loopback_client, bearer, endpoints
):
    endpoint = await endpoints()
    org_id = uuid.uuid4()
    await subscribe(loopback_client, bearer(org_id), endpoint.url("hris"))
    event_ids = await emit(loopback_issuer, org_id, 2)
    state = loopback_issuer.state
    now = utcnow()
    # A worker claims, then dies before sending: its lease stays behind.
    claimed = await outbox.claim_due(state.database.sessions, "worker-that-died", now)
    assert sorted(delivery.event_id for subscription in claimed for delivery in subscription.deliveries) == sorted(
        event_ids
    )

    async def deliver(at) -> int:  # noqa: ANN001
        return await outbox.deliver_due(state.database.sessions, state.key_vault, state.webhook_http, now=at)

    assert await deliver(now + timedelta(seconds=30)) == 0  # still leased: nobody else sends it
    assert endpoint.received == []
    assert await deliver(now + outbox.DEFAULT_POLICY.lease + timedelta(seconds=1)) == 2
    assert sorted(item.webhook_id for item in endpoint.received) == sorted(event_ids)
