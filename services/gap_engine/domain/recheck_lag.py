"""How far the status sweep is behind, read from the database at scrape time (shared/observability.py),
so that it is right whichever replica holds the sweep's lease."""

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.gap_engine.db.tables import ReceivedCredential
from services.gap_engine.domain.status_sweep import SWEPT
from shared.db import utcnow
from shared.observability import DatabaseProbe, ServiceMetrics


def _last_checked() -> ColumnElement[datetime]:
    # A credential never re-checked was verified when it was received.
    return func.coalesce(ReceivedCredential.checked_at, ReceivedCredential.received_at)


def _swept() -> tuple[ColumnElement[bool], ...]:
    # As the sweep selects what it re-checks (status_sweep._swept, across organisations).
    return (ReceivedCredential.status.in_(SWEPT), ReceivedCredential.employee_id.is_not(None))


def overdue_age_seconds(recheck: timedelta) -> DatabaseProbe:
    async def probe(session: AsyncSession) -> float:
        """Seconds the most overdue credential has waited past its re-check (last check + interval)."""
        oldest = await session.scalar(select(func.min(_last_checked())).where(*_swept()))
        if oldest is None:
            return 0.0
        return max((utcnow() - oldest - recheck).total_seconds(), 0.0)

    return probe


def overdue_count(recheck: timedelta) -> DatabaseProbe:
    async def probe(session: AsyncSession) -> float:
        due_before = utcnow() - recheck
        return float(await session.scalar(select(func.count()).where(*_swept(), _last_checked() < due_before)) or 0)

    return probe


def register_recheck_gauges(metrics: ServiceMetrics, recheck: timedelta) -> None:
    metrics.gauge_from_database(
        "credstack_status_recheck_overdue_age_seconds",
        "How long the most overdue counted credential has waited past its status re-check (0 when none is)",
        overdue_age_seconds(recheck),
    )
    metrics.gauge_from_database(
        "credstack_status_recheck_overdue_credentials",
        "Counted credentials past their status re-check, all organisations",
        overdue_count(recheck),
    )
