"""What the credentials did for a KPI: holders of each achievement against the rest, and the pairs of
achievements over-represented in the top quartile ("which two badges precede top-quartile scores?").

Each observed employee counts once, with their latest observation of the metric in the filter. An
employee holds an achievement for that observation when a counted credential for it (status verified:
signature and status checked, issuer trusted, not revoked) was earned before the observation's period
started and had not expired by then. The per-employee rows come from two set-based queries; the
statistics run in numpy. This is association, not causation: holders may differ in other ways.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal

import anyio.to_thread
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import KpiObservation, ReceivedCredential
from services.gap_engine.domain.received_credentials import VERIFIED
from shared.errors import NotFound, Unprocessable
from shared.schemas.gap_insights import AchievementLinkage, AchievementPair, KpiLinkage

MIN_GROUP_SIZE = 10  # below this per group, a mean difference says nothing useful
MIN_PAIR_SUPPORT = 5  # a pair held together by fewer employees is not ranked
RESAMPLES = 2_000  # percentile bootstrap: enough for stable 2.5 % / 97.5 % tails
SEED = 20_260_101
BOOTSTRAP_CHUNK = 4_000_000  # resample counts held at once (≈ 32 MB of float64)

Direction = Literal["increase", "decrease"]


@dataclass
class Observed:
    """Per employee (rows) the metric value, and per achievement (columns) whether it was held."""

    values: np.ndarray
    held: np.ndarray
    achievements: list[uuid.UUID]


async def observed_holdings(
    session: AsyncSession,
    org_id: uuid.UUID,
    metric: str,
    period_from: date | None,
    period_to: date | None,
) -> Observed:
    latest = select(
        KpiObservation.employee_id,
        KpiObservation.value,
        KpiObservation.period_start,
        func.row_number()
        .over(
            partition_by=KpiObservation.employee_id,
            order_by=(KpiObservation.period_start.desc(), KpiObservation.period_end.desc()),
        )
        .label("recency"),
    ).where(KpiObservation.org_id == org_id, KpiObservation.metric == metric)
    if period_from is not None:
        latest = latest.where(KpiObservation.period_start >= period_from)
    if period_to is not None:
        latest = latest.where(KpiObservation.period_end <= period_to)
    latest_sq = latest.subquery("latest")
    observations = (
        await session.execute(
            select(latest_sq.c.employee_id, latest_sq.c.value, latest_sq.c.period_start)
            .where(latest_sq.c.recency == 1)
            .order_by(latest_sq.c.employee_id)
        )
    ).all()
    credentials = (
        await session.execute(
            select(
                ReceivedCredential.employee_id,
                ReceivedCredential.achievement_id,
                func.coalesce(ReceivedCredential.earned_at, ReceivedCredential.received_at).label("earned"),
                ReceivedCredential.expires_at,
            )
            .join(latest_sq, latest_sq.c.employee_id == ReceivedCredential.employee_id)
            .where(
                latest_sq.c.recency == 1,
                ReceivedCredential.org_id == org_id,
                ReceivedCredential.status == VERIFIED,
                ReceivedCredential.achievement_id.is_not(None),
            )
        )
    ).all()
    row_of = {row.employee_id: index for index, row in enumerate(observations)}
    starts = {row.employee_id: datetime.combine(row.period_start, time.min, UTC) for row in observations}
    held_pairs = set()
    for row in credentials:
        start = starts[row.employee_id]
        earned = _aware(row.earned)
        expires = _aware(row.expires_at) if row.expires_at is not None else None
        if earned < start and (expires is None or expires > start):
            held_pairs.add((row_of[row.employee_id], row.achievement_id))
    achievements = sorted({achievement for _, achievement in held_pairs}, key=str)
    column_of = {achievement: index for index, achievement in enumerate(achievements)}
    held = np.zeros((len(observations), len(achievements)), dtype=bool)
    for row_index, achievement in held_pairs:
        held[row_index, column_of[achievement]] = True
    values = np.array([row.value for row in observations], dtype=np.float64)
    return Observed(values=values, held=held, achievements=achievements)


def _aware(moment: datetime) -> datetime:
    """coalesce() loses the column type on SQLite, so a naive UTC value can come back."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def bootstrap_differences(
    values: np.ndarray, held: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES
) -> np.ndarray:
    """mean(holders) − mean(non-holders) per resample (rows) and achievement (columns).

    Case resampling: each resample draws the employees with replacement, as counts per employee, so
    every achievement's group sums are one matrix product over the same resamples. Chunks keep the
    count matrix under BOOTSTRAP_CHUNK values. A resample leaving a group empty gives NaN (ignored)."""
    size = len(values)
    held_counts = held.astype(np.float64)
    held_values = held_counts * values[:, None]
    differences = np.empty((resamples, held.shape[1]))
    rows = max(1, BOOTSTRAP_CHUNK // size)
    for start in range(0, resamples, rows):
        count = min(rows, resamples - start)
        draws = rng.integers(0, size, size=(count, size))
        flat = (np.arange(count)[:, None] * size + draws).ravel()
        counts = np.bincount(flat, minlength=count * size).reshape(count, size).astype(np.float64)
        total = counts @ values
        holders = counts @ held_counts
        holders_sum = counts @ held_values
        with np.errstate(divide="ignore", invalid="ignore"):
            differences[start : start + count] = holders_sum / holders - (total[:, None] - holders_sum) / (
                size - holders
            )
    return differences


def link_achievements(
    observed: Observed, names: dict[uuid.UUID, str], direction: Direction
) -> list[AchievementLinkage]:
    """Per achievement the group sizes and means, and for those with both groups large enough the
    difference with its 95 % percentile bootstrap interval (one seeded generator: same data, same answer)."""
    values, held = observed.values, observed.held
    holders_n = held.sum(axis=0)
    analysable = np.flatnonzero(np.minimum(holders_n, len(values) - holders_n) >= MIN_GROUP_SIZE)
    intervals = {}
    if len(analysable):
        differences = bootstrap_differences(values, held[:, analysable], np.random.default_rng(SEED))
        bounds = np.nanpercentile(differences, [2.5, 97.5], axis=0)
        intervals = {int(column): (float(bounds[0, k]), float(bounds[1, k])) for k, column in enumerate(analysable)}
    linkages = []
    for column, achievement_id in enumerate(observed.achievements):
        mask = held[:, column]
        holders, others = values[mask], values[~mask]
        common = {
            "achievement_id": achievement_id,
            "name": names.get(achievement_id),
            "holders": len(holders),
            "non_holders": len(others),
        }
        if column not in intervals:
            linkages.append(
                AchievementLinkage(
                    **common,
                    status="insufficient_data",
                    mean_holders=None,
                    mean_non_holders=None,
                    difference=None,
                    ci_low=None,
                    ci_high=None,
                )
            )
            continue
        low, high = intervals[column]
        linkages.append(
            AchievementLinkage(
                **common,
                status="ok",
                mean_holders=float(holders.mean()),
                mean_non_holders=float(others.mean()),
                difference=float(holders.mean() - others.mean()),
                ci_low=low,
                ci_high=high,
            )
        )
    sign = -1.0 if direction == "increase" else 1.0
    linkages.sort(
        key=lambda link: (
            link.status != "ok",
            sign * link.difference if link.difference is not None else 0.0,
            link.name or "",
            str(link.achievement_id),
        )
    )
    return linkages


def top_quartile(values: np.ndarray, direction: Direction) -> tuple[float, np.ndarray]:
    if direction == "increase":
        threshold = float(np.quantile(values, 0.75))
        return threshold, values >= threshold
    threshold = float(np.quantile(values, 0.25))
    return threshold, values <= threshold


def top_pairs(observed: Observed, top: np.ndarray, names: dict[uuid.UUID, str], limit: int) -> list[AchievementPair]:
    """Lift of holding both achievements of a pair on being in the top quartile, from two co-occurrence
    matrices (all employees, top quartile) computed as matrix products."""
    held = observed.held.astype(np.int64)
    employees, top_size = len(observed.values), int(top.sum())
    if held.shape[1] < 2 or top_size == 0:
        return []
    together = held.T @ held
    together_top = held[top].T @ held[top]
    first, second = np.triu_indices(held.shape[1], k=1)
    support = together[first, second]
    keep = support >= MIN_PAIR_SUPPORT
    first, second, support = first[keep], second[keep], support[keep]
    support_top = together_top[first, second]
    lift = (support_top / top_size) / (support / employees)
    ids = observed.achievements
    ranked = sorted(
        range(len(first)),
        key=lambda k: (
            -lift[k],
            -support_top[k],
            names.get(ids[first[k]], ""),
            names.get(ids[second[k]], ""),
            str(ids[first[k]]),
            str(ids[second[k]]),
        ),
    )
    return [
        AchievementPair(
            achievement_ids=(ids[first[k]], ids[second[k]]),
            names=(names.get(ids[first[k]]), names.get(ids[second[k]])),
            support=int(support[k]),
            support_top=int(support_top[k]),
            lift=round(float(lift[k]), 6),
        )
        for k in ranked[:limit]
    ]


async def kpi_linkage(
    session: AsyncSession,
    org_id: uuid.UUID,
    metric: str,
    *,
    names: dict[uuid.UUID, str],
    direction: Direction = "increase",
    period_from: date | None = None,
    period_to: date | None = None,
    pairs: int = 10,
) -> KpiLinkage:
    """Refuses (422) when no achievement has at least MIN_GROUP_SIZE holders and non-holders; otherwise
    reports every achievement, the small ones as insufficient_data."""
    if period_from is not None and period_to is not None and period_to < period_from:
        raise Unprocessable("period_to is before period_from.", field="period_to")
    observed = await observed_holdings(session, org_id, metric, period_from, period_to)
    employees = len(observed.values)
    if employees == 0:
        raise NotFound(f"No observation of metric {metric!r} in this organisation for that period.")
    # Seconds of numpy for thousands of employees: off the event loop (numpy releases the GIL).
    linkages = await anyio.to_thread.run_sync(link_achievements, observed, names, direction)
    if not any(link.status == "ok" for link in linkages):
        raise Unprocessable(
            f"Groups are too small to say anything about {metric!r}: of the {employees} employees observed, no "
            f"achievement has at least {MIN_GROUP_SIZE} holders and {MIN_GROUP_SIZE} non-holders (holding means "
            "a trusted, verified credential earned before the observation's period).",
            employees=employees,
            min_group_size=MIN_GROUP_SIZE,
        )
    threshold, top = top_quartile(observed.values, direction)
    return KpiLinkage(
        metric=metric,
        direction=direction,
        period_from=period_from,
        period_to=period_to,
        employees=employees,
        top_quartile_threshold=threshold,
        top_quartile_size=int(top.sum()),
        min_group_size=MIN_GROUP_SIZE,
        min_pair_support=MIN_PAIR_SUPPORT,
        resamples=RESAMPLES,
        seed=SEED,
        achievements=linkages,
        top_pairs=top_pairs(observed, top, names, pairs),
    )
