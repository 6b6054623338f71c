"""Stackable pathways: a DAG of achievements leading to an optional capstone."""

import heapq
import uuid
from collections import Counter
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Pathway, PathwayStep
from services.taxonomy_api.domain import achievements
from shared.errors import Unprocessable
from shared.repository import TenantRepository
from shared.schemas.taxonomy import PathwayIn, PathwayOut, PathwayProgress, PathwayStepIn, PathwayStepOut


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Pathway]:
    return TenantRepository(session, org_id, Pathway, "pathway")


def ordered_steps(steps: list[PathwayStepIn]) -> list[PathwayStepIn]:
    """Topological order (prerequisites first), ties broken by the order given.

    Raises a 422 naming a dangling prerequisite, a repeated step, or the achievements on a cycle.
    """
    position = {step.achievement_id: index for index, step in enumerate(steps)}
    if len(position) != len(steps):
        counts = Counter(step.achievement_id for step in steps)
        repeated = sorted(str(achievement_id) for achievement_id, count in counts.items() if count > 1)
        raise Unprocessable(f"Achievement(s) {', '.join(repeated)} appear more than once in the pathway.")
    for step in steps:
        for prerequisite in step.prerequisites:
            if prerequisite not in position:
                raise Unprocessable(
                    f"Step {step.achievement_id} requires {prerequisite}, which is not a step of this pathway.",
                    dangling=str(prerequisite),
                )
            if prerequisite == step.achievement_id:
                raise Unprocessable(
                    f"Step {step.achievement_id} lists itself as a prerequisite.", cycle=[str(prerequisite)]
                )
    by_id = {step.achievement_id: step for step in steps}
    waiting = {step.achievement_id: len(set(step.prerequisites)) for step in steps}
    dependants: dict[uuid.UUID, list[uuid.UUID]] = {step.achievement_id: [] for step in steps}
    for step in steps:
        for prerequisite in set(step.prerequisites):
            dependants[prerequisite].append(step.achievement_id)
    ready = [(position[a], a) for a, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[PathwayStepIn] = []
    while ready:
        _, achievement_id = heapq.heappop(ready)
        order.append(by_id[achievement_id])
        for dependant in dependants[achievement_id]:
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                heapq.heappush(ready, (position[dependant], dependant))
    if len(order) < len(steps):
        cycle = _find_cycle(by_id, {a for a, count in waiting.items() if count > 0})
        raise Unprocessable(
            f"The prerequisites form a cycle: {' -> '.join(str(a) for a in cycle)}.", cycle=[str(a) for a in cycle]
        )
    return order


def _find_cycle(by_id: dict[uuid.UUID, PathwayStepIn], stuck: set[uuid.UUID]) -> list[uuid.UUID]:
    """Walk prerequisites among the stuck steps until one repeats: that loop is a cycle."""
    current = min(stuck, key=str)
    seen: list[uuid.UUID] = []
    while current not in seen:
        seen.append(current)
        current = next(p for p in by_id[current].prerequisites if p in stuck)
    loop = seen[seen.index(current) :]
    return [*loop, current]


async def save_pathway(
    session: AsyncSession, org_id: uuid.UUID, data: PathwayIn, pathway_id: uuid.UUID | None = None
) -> Pathway:
    pathways = repository(session, org_id)
    existing = await pathways.claim_name(data.name, pathway_id)
    ordered_steps(data.steps)
    referenced = [step.achievement_id for step in data.steps]
    if data.capstone_achievement_id is not None:
        if data.capstone_achievement_id in referenced:
            raise Unprocessable("The capstone is awarded for completing the steps; it cannot also be a step.")
        referenced.append(data.capstone_achievement_id)
    await achievements.repository(session, org_id).get_many(referenced)
    pathway = existing or pathways.add(Pathway())
    pathway.name, pathway.description = data.name, data.description
    pathway.capstone_achievement_id = data.capstone_achievement_id
    pathway.steps = [
        PathwayStep(
            achievement_id=step.achievement_id,
            position=position,
            prerequisites=[str(p) for p in step.prerequisites],
        )
        for position, step in enumerate(data.steps)
    ]
    await session.flush()
    return pathway


async def describe_pathway(session: AsyncSession, pathway: Pathway) -> PathwayOut:
    names = await achievements.repository(session, pathway.org_id).get_many(s.achievement_id for s in pathway.steps)
    return PathwayOut(
        id=pathway.id,
        name=pathway.name,
        description=pathway.description,
        steps=[
            PathwayStepOut(
                achievement_id=s.achievement_id,
                prerequisites=[uuid.UUID(p) for p in s.prerequisites],
                achievement_name=names[s.achievement_id].name,
                tier=names[s.achievement_id].tier,
            )
            for s in pathway.steps
        ],
        capstone_achievement_id=pathway.capstone_achievement_id,
        created_at=pathway.created_at,
        updated_at=pathway.updated_at,
    )


def pathway_progress(pathway: PathwayOut, held: Iterable[uuid.UUID]) -> PathwayProgress:
    """What remains for a learner who holds `held`: the missing steps in a valid order, and which are open now."""
    held_set = set(held)
    remaining = [s for s in ordered_steps(pathway.steps) if s.achievement_id not in held_set]  # type: ignore[arg-type]
    return PathwayProgress(
        pathway_id=pathway.id,
        complete=not remaining,
        held=sorted(held_set & {s.achievement_id for s in pathway.steps}, key=str),
        remaining=remaining,  # type: ignore[arg-type]
        available_now=[s.achievement_id for s in remaining if held_set.issuperset(s.prerequisites)],
        capstone_achievement_id=pathway.capstone_achievement_id,
        capstone_held=pathway.capstone_achievement_id in held_set,
    )
