"""Shutting the issuer down (its lifespan ending, what uvicorn does on SIGTERM) lets the webhook POST
in flight finish, starts no other, and releases every lease its worker holds, so another replica
sends the rest at once instead of after the lease lapses."""

import time
import uuid

import pytest

from tests.badge_issuer.loopback_endpoints import emit, owed, subscribe, wait_until

pytestmark = pytest.mark.anyio


async def test_shutdown_finishes_the_post_in_flight_and_releases_the_other_leases(
    loopback_issuer, loopback_client, bearer, endpoints
):
    slow = await endpoints(delay_seconds=1.0)
    org_id = uuid.uuid4()
    subscription_id = await subscribe(loopback_client, bearer(org_id), slow.url("hris"))
    event_ids = await emit(loopback_issuer, org_id, 5)
    async with loopback_issuer.router.lifespan_context(loopback_issuer):
        await wait_until(lambda: slow.in_flight == 1, 5)
        leased = await owed(loopback_issuer, subscription_id)
        assert len({row.lease_owner for row in leased}) == 1 and None not in {row.lease_owner for row in leased}
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    rows = await owed(loopback_issuer, subscription_id)
    delivered = [row for row in rows if row.status == "delivered"]
    assert [item.webhook_id for item in slow.received] == [row.event_id for row in delivered]
    assert len(delivered) == 1 and delivered[0].event_id in event_ids  # the one in flight finished
    rest = [row for row in rows if row.status != "delivered"]
    assert [(row.status, row.attempts, row.lease_owner, row.lease_until) for row in rest] == [
        ("pending", 0, None, None)
    ] * 4
    assert took < 3.0, f"shutdown took {took:.2f} s"
