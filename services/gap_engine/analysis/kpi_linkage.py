"""What the credentials did for a KPI: holders of each achievement against the rest, and the pairs of
achievements over-represented in the top quartile ("which two badges precede top-quartile scores?").

Each observed employee counts once, with their latest observation of the metric in the filter. An
employee holds an achievement for that observation when a counted credential for it (status verified:
signature and status checked, issuer trusted, not revoked) was earned before the observation's period
started and had not expired by then. Two set-based queries return the values in employee order and, per
achievement, the positions of its holders (a string aggregate: no row per credential crosses the
driver); the statistics run in numpy on the employees x achievements 0/1 matrix. This is association,
not causation: holders may differ in other ways.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

import anyio.to_thread
import numpy as np
from sqlalchemy import DateTime, Row, String, Subquery, and_, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from services.gap_engine.db.tables import KpiObservation, ReceivedCredential
from services.gap_engine.domain.received_credentials import VERIFIED
from shared.db import hash_joins_only
from shared.errors import NotFound, Unprocessable
from shared.schemas.gap_insights import AchievementLinkage, AchievementPair, KpiLinkage

MIN_GROUP_SIZE = 10  # below this per group, a mean difference says nothing useful
MIN_PAIR_SUPPORT = 5  # a pair held together by fewer employees is not ranked
RESAMPLES = 2_000  # percentile bootstrap: enough for stable 2.5 % / 97.5 % tails
SEED = 20_260_101
# A group this large has its resampled mean drawn from the bootstrap distribution's normal limit
# (mean, variance and a Cornish-Fisher skewness term: error O(1/n), far below the Monte Carlo error
# of 2,000 resamples); smaller groups are resampled draw by draw. Bounds the work at
# resamples x EXACT_GROUP_LIMIT per group, whatever the organisation's size.
EXACT_GROUP_LIMIT = 500

Direction = Literal["increase", "decrease"]


@dataclass
class Observed:
    """Per employee (rows) the metric value, and per achievement (columns) whether it was held."""

    values: np.ndarray
    held: np.ndarray
    achievements: list[uuid.UUID]


def _period_start_moment(period_start: ColumnElement, dialect: str) -> ColumnElement:
    """Midnight UTC of the period's first day, comparable with the stored credential times: a
    timestamptz on PostgreSQL; on SQLite the text form SQLAlchemy stores datetimes in."""
    if dialect == "sqlite":
        return cast(period_start, String) + " 00:00:00.000000"
    return func.timezone("UTC", cast(period_start, DateTime()))


async def observed_holdings(
    session: AsyncSession,
    org_id: uuid.UUID,
    metric: str,
    period_from: date | None,
    period_to: date | None,
) -> Observed:
    # The latest observation per employee as an anti-join (no later one in the filter), not as a
    # row_number() = 1 filter: PostgreSQL then estimates the rows it yields (one per employee) and
    # hash-joins the credentials to them, instead of 100,000 index probes and a sort on disk. Both
    # statements run with hash joins only: right after a bulk load, before any statistics, the planner
    # otherwise nests the anti-join inside a loop over the credentials (hash_joins_only).
    later = aliased(KpiObservation)
    conditions = [KpiObservation.org_id == org_id, KpiObservation.metric == metric]
    later_conditions = [
        later.org_id == org_id,
        later.metric == metric,
        later.employee_id == KpiObservation.employee_id,
        or_(
            later.period_start > KpiObservation.period_start,
            and_(later.period_start == KpiObservation.period_start, later.period_end > KpiObservation.period_end),
        ),
    ]
    if period_from is not None:
        conditions.append(KpiObservation.period_start >= period_from)
        later_conditions.append(later.period_start >= period_from)
    if period_to is not None:
        conditions.append(KpiObservation.period_end <= period_to)
        later_conditions.append(later.period_end <= period_to)
    observed = (
        select(
            KpiObservation.employee_id,
            KpiObservation.value,
            KpiObservation.period_start,
            (func.row_number().over(order_by=KpiObservation.employee_id) - 1).label("position"),
        )
        .where(*conditions, ~exists().where(*later_conditions))
        .subquery("observed")
    )
    async with hash_joins_only(session):
        values, holders = await _values_and_holders(session, org_id, observed)
    holders.sort(key=lambda row: str(row[0]))
    held = np.zeros((len(values), len(holders)), dtype=bool)
    for column, (_, positions) in enumerate(holders):
        # Two credentials for the same achievement repeat a position: setting True twice is harmless.
        held[np.fromstring(positions, dtype=np.int64, sep=","), column] = True
    return Observed(values=values, held=held, achievements=[row[0] for row in holders])


async def _values_and_holders(
    session: AsyncSession, org_id: uuid.UUID, observed: Subquery
) -> tuple[np.ndarray, list[Row[tuple[uuid.UUID, str]]]]:
    """The observed values in employee order (`observed`: employee_id, value, period_start, position),
    and per achievement its holders' positions, comma-separated."""
    values = np.array(
        (await session.execute(select(observed.c.value).order_by(observed.c.position))).scalars().all(),
        dtype=np.float64,
    )
    start = _period_start_moment(observed.c.period_start, session.get_bind().dialect.name)
    holders = (
        await session.execute(
            select(
                ReceivedCredential.achievement_id,
                func.aggregate_strings(cast(observed.c.position, String), ","),
            )
            .join(observed, observed.c.employee_id == ReceivedCredential.employee_id)
            .where(
                ReceivedCredential.org_id == org_id,
                ReceivedCredential.status == VERIFIED,
                ReceivedCredential.achievement_id.is_not(None),
                func.coalesce(ReceivedCredential.earned_at, ReceivedCredential.received_at) < start,
                or_(ReceivedCredential.expires_at.is_(None), ReceivedCredential.expires_at > start),
            )
            .group_by(ReceivedCredential.achievement_id)
        )
    ).all()
    return values, list(holders)


def resampled_means(group: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """The means of `resamples` draws of len(group) values with replacement from `group`.

    Up to EXACT_GROUP_LIMIT values they are drawn; beyond, the mean of such a resample is, by the
    central limit theorem, normal with the group's mean and variance / n, and skewness skew / sqrt(n):
    standard normals get the first-order Cornish-Fisher term (z + skewness (z^2 - 1) / 6) so that the
    tails keep the group's asymmetry. Same moments, a tiny fraction of the work at 100,000 employees."""
    size = len(group)
    if size < EXACT_GROUP_LIMIT:
        return group[rng.integers(0, size, size=(resamples, size))].mean(axis=1)
    mean = group.mean()
    deviations = group - mean
    variance = float(np.mean(deviations**2))
    if variance == 0.0:
        return np.full(resamples, mean)
    skewness = float(np.mean(deviations**3)) / variance**1.5 / np.sqrt(size)
    normal = rng.standard_normal(resamples)
    return mean + np.sqrt(variance / size) * (normal + skewness * (normal**2 - 1) / 6)


def bootstrap_differences(
    values: np.ndarray, held: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES
) -> np.ndarray:
    """mean(holders) − mean(non-holders) per resample (rows) and achievement (columns).

    Stratified resampling: per achievement, holders are drawn from the holders and non-holders from the
    non-holders, so the group sizes stay those observed (every group has at least MIN_GROUP_SIZE, so no
    resample is empty). Achievements take the generator's draws in column order, holders first."""
    differences = np.empty((resamples, held.shape[1]))
    for column in range(held.shape[1]):
        mask = held[:, column]
        differences[:, column] = resampled_means(values[mask], rng, resamples) - resampled_means(
            values[~mask], rng, resamples
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
        bounds = np.percentile(differences, [2.5, 97.5], axis=0)
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


def pairs_held_together(held: np.ndarray) -> np.ndarray:
    """held.T @ held for a 0/1 employees x achievements matrix (co-occurrence counts; only the upper
    triangle is filled), counted with bits: each achievement's column packed 64 employees to a word,
    a pair's count the popcount of the AND of their columns. Exact integers, a few milliseconds at
    100,000 x 50, and no BLAS threads (which, contended on a busy 2-core host, took ten times longer)."""
    achievements = held.shape[1]
    packed = np.packbits(held, axis=0).T  # achievements x ceil(employees / 8) bytes
    words = np.zeros((achievements, -(-packed.shape[1] // 8) * 8), dtype=np.uint8)
    words[:, : packed.shape[1]] = packed
    words = words.view(np.uint64)
    together = np.zeros((achievements, achievements), dtype=np.int64)
    for column in range(achievements - 1):
        together[column, column + 1 :] = np.bitwise_count(words[column] & words[column + 1 :]).sum(axis=1)
    return together


def top_pairs(observed: Observed, top: np.ndarray, names: dict[uuid.UUID, str], limit: int) -> list[AchievementPair]:
    """Lift of holding both achievements of a pair on being in the top quartile, from two co-occurrence
    matrices (all employees, top quartile)."""
    held = observed.held
    employees, top_size = len(observed.values), int(top.sum())
    if held.shape[1] < 2 or top_size == 0:
        return []
    together = pairs_held_together(held)
    together_top = pairs_held_together(held[top])
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
    # Up to a second or so of numpy at 100,000 employees: off the event loop (numpy releases the GIL).
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
