"""The gap engine's /metrics tells how far the status sweep is behind, read from the database (right
whichever replica holds the sweep's lease): a counted credential past its re-check shows, and goes
once the sweep has checked it."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from services.gap_engine.db.tables import ReceivedCredential
from shared.db import utcnow
from tests.gap_engine.test_status_sweep import _sweep, ada, counted  # noqa: F401
from tests.metrics import MetricsReader

pytestmark = pytest.mark.anyio
AGE, OVERDUE = "credstack_status_recheck_overdue_age_seconds", "credstack_status_recheck_overdue_credentials"


async def test_a_credential_past_its_recheck_shows_until_the_sweep_checks_it(client, gap_app, counted, org):  # noqa: F811
    recheck = gap_app.state.sweep_policy.recheck
    metrics = MetricsReader(client)
    before = await metrics.read()

    # As if the sweep had stopped long ago: last checked (and received) ten years back, older than
    # anything another test leaves in the shared database, so it is the most overdue of all.
    long_ago = utcnow() - max(2 * recheck, timedelta(days=3650))
    async with gap_app.state.database.sessions() as session:
        await session.execute(
            update(ReceivedCredential)
            .where(ReceivedCredential.org_id == org)
            .values(received_at=long_ago, checked_at=long_ago)
        )
        await session.commit()
    behind = await metrics.read()
    assert behind.delta(before, OVERDUE) == 1
    assert behind.value(AGE) >= (utcnow() - long_ago - recheck).total_seconds() - 5  # overdue since due

    outcome = await _sweep(gap_app, now=utcnow(), org_id=org)
    assert outcome.leased and outcome.checked == 1
    swept = await metrics.read()
    assert swept.value(OVERDUE) == before.value(OVERDUE)
    assert swept.value(AGE) < behind.value(AGE)  # it was the most overdue
