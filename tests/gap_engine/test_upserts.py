"""The bulk upsert writes one INSERT … ON CONFLICT per batch of rows, not one per row."""

import uuid

from sqlalchemy import event, func, select

from services.gap_engine.db.tables import Employee
from services.gap_engine.domain import employees
from shared.schemas.gaps import EmployeeBulkItem


async def test_bulk_upsert_issues_one_statement_per_batch(gap_app):
    org_id = uuid.uuid4()
    people = [EmployeeBulkItem(hris_id=f"E-{n}", name=f"Person {n}") for n in range(2_500)]
    inserts: list[str] = []

    def count_inserts(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO EMPLOYEES"):
            inserts.append(statement)

    engine = gap_app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count_inserts)
    try:
        async with gap_app.state.database.sessions() as session:
            outcome = await employees.upsert_employees(session, org_id, people)
            await session.commit()
            stored = await session.scalar(select(func.count()).select_from(Employee).where(Employee.org_id == org_id))
    finally:
        event.remove(engine, "before_cursor_execute", count_inserts)
    assert (outcome.created, stored) == (2_500, 2_500)
    assert len(inserts) == 3  # batches of 1,000, 1,000 and 500
    await gap_app.state.database.dispose()
