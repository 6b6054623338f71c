"""The first deliveries from an own issuer, taken at once by two gap-engine replicas, both trust it: the
second insert of the registry entry met the first's unique key and the delivery was answered 409 (seen in
tests/cluster; the issuer retried). The later one must find the entry and carry on."""

import asyncio
import uuid

from sqlalchemy import func, select

from services.gap_engine.db.tables import TrustedIssuer
from services.gap_engine.domain import trusted_issuers


async def test_two_transactions_trusting_one_own_issuer_at_once_both_succeed(gap_app, org):
    database = gap_app.state.database
    did, issuer_ref = f"did:key:z6Mk{uuid.uuid4().hex}", uuid.uuid4()
    async with database.sessions() as first, database.sessions() as second:
        await trusted_issuers.ensure_own_issuer(first, org, did, issuer_ref)  # written, not committed yet
        racing = asyncio.create_task(trusted_issuers.ensure_own_issuer(second, org, did, issuer_ref))
        await asyncio.sleep(0.3)  # the second waits on the first's key (PostgreSQL) or write lock (SQLite)
        await first.commit()
        await asyncio.wait_for(racing, 15)
        await second.commit()
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(TrustedIssuer.org_id == org, TrustedIssuer.issuer_id == did)
        )
    assert count == 1
