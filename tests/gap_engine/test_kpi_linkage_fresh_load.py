"""KPI linkage right after a bulk load, before the tables have statistics (issue 16: on 2,000 employees
the linkage ran for minutes: the planner, told every table held one row, re-ran the latest-observation
anti-join once per credential). On PostgreSQL autovacuum is switched off for the loaded tables, so they
stay as a load leaves them until autovacuum comes by; the answer must come within a bound far below the
statement timeout, and equal the answer once the tables are analysed."""

import time
import uuid
from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import insert, text

from services.gap_engine.analysis.kpi_linkage import observed_holdings
from services.gap_engine.db.tables import Employee, KpiObservation, ReceivedCredential
from shared.db import Database
from shared.migrations import upgrade

EMPLOYEES = 2_000
ACHIEVEMENTS = 8
METRIC = "tickets closed"
EARNED = datetime(2026, 1, 10, tzinfo=UTC)
BOUND_SECONDS = 5.0  # the fix answers in well under a second; the old plan ran out a 30 s timeout


@pytest.fixture
def migrated_url(fresh_database_url: str) -> str:
    upgrade("gap_engine", fresh_database_url)
    return fresh_database_url


@pytest.fixture
async def loaded(migrated_url: str):
    database = Database(migrated_url, statement_timeout_ms=int(BOUND_SECONDS * 4 * 1000))
    rng = np.random.default_rng(16)
    org = uuid.uuid4()
    employees = [uuid.uuid4() for _ in range(EMPLOYEES)]
    achievements = [uuid.uuid4() for _ in range(ACHIEVEMENTS)]
    held = rng.random((EMPLOYEES, ACHIEVEMENTS)) < 0.4
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with database.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            for table in ("employees", "kpi_observations", "received_credentials"):
                await session.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        await session.execute(
            insert(Employee),
            [
                {"id": e, "org_id": org, "hris_id": f"F{i}", "name": f"F {i}", "created_at": now, "updated_at": now}
                for i, e in enumerate(employees)
            ],
        )
        observations = []
        for i, e in enumerate(employees):
            for quarter in range(4):  # each employee counts once, with the latest quarter
                start = date(2026, 1 + 3 * quarter, 1)
                end = date(2026, 3 + 3 * quarter, 28)
                value = float(i % 97 + 10 * held[i, 0]) if quarter == 3 else -1.0
                observations.append(
                    {"id": uuid.uuid4(), "org_id": org, "employee_id": e, "metric": METRIC, "value": value}
                    | {"period_start": start, "period_end": end}
                )
        await session.execute(insert(KpiObservation), observations)
        rows, columns = np.nonzero(held)
        await session.execute(
            insert(ReceivedCredential),
            [
                {
                    "id": uuid.uuid4(),
                    "org_id": org,
                    "employee_id": employees[i],
                    "credential_id": f"urn:uuid:{uuid.uuid4()}",
                    "issuer_id": "did:key:z6MkFresh",
                    "achievement_id": achievements[k],
                    "format": "json",
                    "status": "verified",
                    "reasons": [],
                    "skills": [],
                    "presented": {},
                    "earned_at": EARNED,
                    "received_at": EARNED,
                }
                for i, k in zip(rows.tolist(), columns.tolist(), strict=True)
            ],
        )
        await session.commit()
    yield database, org, held
    await database.dispose()


async def test_linkage_right_after_a_bulk_load_answers_fast_and_as_after_analysis(loaded) -> None:
    database, org, held = loaded
    async with database.sessions() as session:
        started = time.perf_counter()
        fresh = await observed_holdings(session, org, METRIC, None, None)
        elapsed = time.perf_counter() - started
    assert elapsed < BOUND_SECONDS, f"{elapsed:.1f} s on tables without statistics"
    assert len(fresh.values) == EMPLOYEES and (fresh.values >= 0).all()  # the latest quarter only
    assert fresh.held.sum() == held.sum()

    async with database.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("ANALYZE"))
        analysed = await observed_holdings(session, org, METRIC, None, None)
    assert np.array_equal(fresh.values, analysed.values)
    assert np.array_equal(fresh.held, analysed.held)
    assert fresh.achievements == analysed.achievements
