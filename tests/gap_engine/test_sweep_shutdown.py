"""The status sweep's lease goes with the replica: a sweeper stopped or cancelled (the app's shutdown
wait ran out) releases it, so another replica sweeps at once instead of when the lease lapses."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from services.gap_engine.db.tables import WorkerLease
from services.gap_engine.domain import status_sweep

pytestmark = pytest.mark.anyio


async def _holder(gap_app) -> str | None:
    async with gap_app.state.database.sessions() as session:
        return await session.scalar(select(WorkerLease.holder).where(WorkerLease.name == status_sweep.LEASE_NAME))


@pytest.mark.parametrize("how", ["stopped", "cancelled"])
async def test_a_sweeper_that_goes_releases_its_lease(gap_app, how):
    state = gap_app.state
    async with state.database.sessions() as session:  # a lease other tests left is not this test's
        await session.execute(delete(WorkerLease).where(WorkerLease.name == status_sweep.LEASE_NAME))
        await session.commit()
    stop = asyncio.Event()
    sweeper = asyncio.create_task(
        status_sweep.run_sweeper(
            state.database.sessions,
            state.verifier,
            state.taxonomy,
            state.service_tokens,
            state.secret_box,
            state.sweep_policy,
            stop,
            60.0,  # after its first round it waits, holding the lease
            timedelta(hours=1),
            fetcher=state.status_fetcher,
        )
    )
    for _ in range(250):
        if (await _holder(gap_app) or "").startswith("sweeper-"):
            break
        await asyncio.sleep(0.02)
    assert (await _holder(gap_app) or "").startswith("sweeper-")
    if how == "stopped":
        stop.set()
        await asyncio.wait_for(sweeper, 10)
    else:
        sweeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sweeper
    assert await _holder(gap_app) is None
