"""Which achievements close an employee's must-have gaps for a role, fewest first, in an order they
can be earned.

The gaps come from compute_role_gap (the gap maths lives there); the catalogue (certified levels,
tiers) and the pathways (prerequisites, capstones) from taxonomy_api with the caller's token.

An achievement closes a gap when it certifies the skill at the required level or above (as earned from
a fully trusted issuer, weight 1). A chosen achievement brings the pathway prerequisites the employee
does not hold (transitively); a capstone needs every step of its pathway. The cost of a list is its
length, prerequisites included.
The search is a set cover: exact (branch and bound from the greedy answer, branching on the uncovered
gap with fewest options) when at most EXACT_MAX_CANDIDATES achievements close some gap, otherwise, or
when the node budget runs out, the greedy answer (or the best the search found).
"""

import heapq
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis.gaps import compute_role_gap
from services.gap_engine.db.tables import ReceivedCredential
from services.gap_engine.domain.employees import get_employee
from services.gap_engine.domain.received_credentials import VERIFIED
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.schemas.gap_insights import (
    CertifiedLevel,
    ClosedGap,
    Recommendation,
    RecommendationStep,
    UnclosableGap,
)
from shared.schemas.gaps import RequirementGap

EXACT_MAX_CANDIDATES = 24
EXACT_NODE_BUDGET = 50_000
TIER_RANK = {"foundational": 0, "intermediate": 1, "advanced": 2}


@dataclass(frozen=True)
class CatalogueAchievement:
    id: uuid.UUID
    name: str
    tier: str
    levels: dict[uuid.UUID, int]

    @property
    def order_key(self) -> tuple[int, str, str]:
        return TIER_RANK.get(self.tier, len(TIER_RANK)), self.name, str(self.id)


def parse_catalogue(items: Iterable[dict[str, Any]]) -> dict[uuid.UUID, CatalogueAchievement]:
    catalogue = {}
    for item in items:
        achievement_id = uuid.UUID(str(item["id"]))
        levels = {uuid.UUID(str(s["skill_id"])): int(s["level"]) for s in item.get("skills", [])}
        catalogue[achievement_id] = CatalogueAchievement(achievement_id, item["name"], item.get("tier", ""), levels)
    return catalogue


def direct_prerequisites(pathways: Iterable[dict[str, Any]]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Per achievement, what must be held first: the step's prerequisites in every pathway it is a step
    of, and for a capstone every step of its pathway (it is awarded when they are all held)."""
    needs: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for pathway in pathways:
        steps = [uuid.UUID(str(step["achievement_id"])) for step in pathway.get("steps", [])]
        for step in pathway.get("steps", []):
            needs[uuid.UUID(str(step["achievement_id"]))].update(
                uuid.UUID(str(p)) for p in step.get("prerequisites", [])
            )
        capstone = pathway.get("capstone_achievement_id")
        if capstone:
            capstone_id = uuid.UUID(str(capstone))
            needs[capstone_id].update(step for step in steps if step != capstone_id)
    return needs


def needed_for(
    achievement_id: uuid.UUID, prerequisites: dict[uuid.UUID, set[uuid.UUID]], held: set[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """The achievement plus every prerequisite, transitively, that is not held (a held one needs nothing)."""
    needed: set[uuid.UUID] = set()
    stack = [achievement_id]
    while stack:
        current = stack.pop()
        if current in needed or current in held:
            continue
        needed.add(current)
        stack.extend(prerequisites.get(current, ()))
    return frozenset(needed)


@dataclass
class CoverProblem:
    """Gaps (index → achievements closing it) and, per achievement, the set choosing it costs."""

    closers: list[list[uuid.UUID]]
    cost: dict[uuid.UUID, frozenset[uuid.UUID]]
    closes: dict[uuid.UUID, frozenset[int]]
    catalogue: dict[uuid.UUID, CatalogueAchievement]

    def covered(self, chosen: frozenset[uuid.UUID]) -> set[int]:
        return {gap for achievement in chosen for gap in self.closes.get(achievement, ())}

    def key(self, chosen: frozenset[uuid.UUID]) -> tuple[int, int, tuple[tuple[int, str, str], ...]]:
        """Fewest achievements, then the lowest total tier rank, then names: deterministic ties."""
        keys = sorted(self.catalogue[a].order_key for a in chosen)
        return len(chosen), sum(k[0] for k in keys), tuple(keys)


def greedy_cover(problem: CoverProblem) -> frozenset[uuid.UUID]:
    """Repeatedly the achievement closing the most open gaps per achievement it adds."""
    chosen: frozenset[uuid.UUID] = frozenset()
    open_gaps = set(range(len(problem.closers)))
    while open_gaps:
        best: tuple[Any, ...] | None = None
        for candidate in sorted(problem.cost, key=lambda a: problem.catalogue[a].order_key):
            added = problem.cost[candidate] - chosen
            gained = len(problem.covered(chosen | added) & open_gaps)
            if not added or not gained:
                continue
            score = (-gained / len(added), len(added), problem.catalogue[candidate].order_key)
            if best is None or score < best[0]:
                best = (score, added)
        if best is None:  # cannot happen: every open gap has a closer
            break
        chosen = chosen | best[1]
        open_gaps -= problem.covered(chosen)
    return chosen


def exact_cover(problem: CoverProblem, start: frozenset[uuid.UUID]) -> tuple[frozenset[uuid.UUID], bool]:
    """Branch and bound from `start`; returns the best cover and whether the search finished."""
    best = start
    best_key = problem.key(start)
    seen: set[frozenset[uuid.UUID]] = set()
    nodes = 0
    finished = True

    def search(chosen: frozenset[uuid.UUID]) -> None:
        nonlocal best, best_key, nodes, finished
        if chosen in seen or not finished:
            return
        seen.add(chosen)
        nodes += 1
        if nodes > EXACT_NODE_BUDGET:
            finished = False
            return
        open_gaps = set(range(len(problem.closers))) - problem.covered(chosen)
        if not open_gaps:
            key = problem.key(chosen)
            if key < best_key:
                best, best_key = chosen, key
            return
        if len(chosen) + 1 > best_key[0]:
            return
        gap = min(open_gaps, key=lambda g: (len(problem.closers[g]), g))
        for closer in problem.closers[gap]:
            grown = chosen | problem.cost[closer]
            if len(grown) <= best_key[0]:
                search(grown)

    search(frozenset())
    return best, finished


def prerequisite_order(
    chosen: frozenset[uuid.UUID],
    prerequisites: dict[uuid.UUID, set[uuid.UUID]],
    catalogue: dict[uuid.UUID, CatalogueAchievement],
) -> list[uuid.UUID]:
    """Kahn's algorithm: every prerequisite before its dependants; among those ready, lower tier then name."""
    inside = {a: prerequisites.get(a, set()) & chosen for a in chosen}
    waiting = {a: len(needs) for a, needs in inside.items()}
    dependants: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for achievement, needs in inside.items():
        for need in needs:
            dependants[need].append(achievement)
    ready = [(catalogue[a].order_key, a) for a, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[uuid.UUID] = []
    while ready:
        _, achievement = heapq.heappop(ready)
        ordered.append(achievement)
        for dependant in dependants[achievement]:
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                heapq.heappush(ready, (catalogue[dependant].order_key, dependant))
    # taxonomy_api refuses cyclic pathways; should one slip through, its members still get listed.
    ordered.extend(sorted(chosen - set(ordered), key=lambda a: catalogue[a].order_key))
    return ordered


async def held_achievements(
    session: AsyncSession, org_id: uuid.UUID, employee_id: uuid.UUID, now: datetime
) -> set[uuid.UUID]:
    """Achievements behind the employee's counted credentials (verified, trusted, not revoked, not expired)."""
    rows = await session.scalars(
        select(ReceivedCredential.achievement_id).where(
            ReceivedCredential.org_id == org_id,
            ReceivedCredential.employee_id == employee_id,
            ReceivedCredential.status == VERIFIED,
            ReceivedCredential.achievement_id.is_not(None),
            or_(ReceivedCredential.expires_at.is_(None), ReceivedCredential.expires_at > now),
        )
    )
    return set(rows)


def _closed(gap: RequirementGap, level: int) -> ClosedGap:
    return ClosedGap(
        skill_id=gap.skill_id,
        skill_name=gap.skill_name,
        criticality=gap.criticality,
        required_level=gap.required_level,
        verified_level=gap.verified_level,
        certified_level=level,
    )


def recommend(
    report_gaps: list[RequirementGap],
    catalogue: dict[uuid.UUID, CatalogueAchievement],
    prerequisites: dict[uuid.UUID, set[uuid.UUID]],
    held: set[uuid.UUID],
) -> tuple[list[RecommendationStep], list[UnclosableGap], str, int]:
    """The pure part: steps, unclosable gaps, the method used and how many candidates there were."""
    unmet = [gap for gap in report_gaps if not gap.met]
    must = [gap for gap in unmet if gap.criticality == "must"]
    available = {a: item for a, item in catalogue.items() if a not in held}

    def closers_of(gap: RequirementGap) -> list[uuid.UUID]:
        found = [a for a, item in available.items() if item.levels.get(gap.skill_id, -1) >= gap.required_level]
        return sorted(found, key=lambda a: catalogue[a].order_key)

    closable, unclosable = [], []
    for gap in must:
        closers = closers_of(gap)
        if closers:
            closable.append((gap, closers))
            continue
        levels = [item.levels[gap.skill_id] for item in available.values() if gap.skill_id in item.levels]
        best = max(levels) if levels else None
        message = f"no achievement certifies {gap.skill_name} at level ≥ {gap.required_level}"
        if best is not None:
            message += f" (the highest certified is {best})"
        unclosable.append(
            UnclosableGap(
                skill_id=gap.skill_id,
                skill_name=gap.skill_name,
                required_level=gap.required_level,
                best_certified_level=best,
                message=message,
            )
        )
    if not closable:  # nothing is needed only when no must-have gap is open at all
        return [], unclosable, "none_possible" if unclosable else "none_needed", 0

    candidates = sorted({a for _, closers in closable for a in closers}, key=lambda a: catalogue[a].order_key)
    cost = {a: needed_for(a, prerequisites, held) for a in candidates}
    # A prerequisite outside the catalogue (deleted, say) cannot be recommended by name.
    cost = {a: needs for a, needs in cost.items() if needs <= catalogue.keys()}
    coverable = []
    for gap, closers in closable:
        usable = [a for a in closers if a in cost]
        if usable:
            coverable.append((gap, usable))
            continue
        unclosable.append(
            UnclosableGap(
                skill_id=gap.skill_id,
                skill_name=gap.skill_name,
                required_level=gap.required_level,
                best_certified_level=max(catalogue[a].levels[gap.skill_id] for a in closers),
                message=f"every achievement certifying {gap.skill_name} at level ≥ {gap.required_level} needs "
                "a prerequisite missing from the catalogue",
            )
        )
    if not coverable:
        return [], unclosable, "none_possible", len(candidates)
    closes: dict[uuid.UUID, set[int]] = defaultdict(set)
    # Prerequisites may close gaps too: count what every achievement in the catalogue closes.
    for index, (gap, _) in enumerate(coverable):
        for achievement_id, item in available.items():
            if item.levels.get(gap.skill_id, -1) >= gap.required_level:
                closes[achievement_id].add(index)
    problem = CoverProblem(
        closers=[closers for _, closers in coverable],
        cost=cost,
        closes={a: frozenset(gaps) for a, gaps in closes.items()},
        catalogue=catalogue,
    )
    chosen = greedy_cover(problem)
    method = "greedy"
    if len(problem.cost) <= EXACT_MAX_CANDIDATES:
        chosen, finished = exact_cover(problem, chosen)
        method = "exact" if finished else "greedy"

    ordered = prerequisite_order(chosen, prerequisites, catalogue)
    open_must = {gap.skill_id: gap for gap, _ in coverable}
    open_should = {gap.skill_id: gap for gap in unmet if gap.criticality == "should"}
    steps = []
    for position, achievement_id in enumerate(ordered, start=1):
        item = catalogue[achievement_id]
        closed, bonus = [], []
        for skill_id, level in sorted(item.levels.items(), key=lambda kv: str(kv[0])):
            for pending, out in ((open_must, closed), (open_should, bonus)):
                gap = pending.get(skill_id)
                if gap is not None and level >= gap.required_level:
                    out.append(_closed(gap, level))
                    del pending[skill_id]
        steps.append(
            RecommendationStep(
                position=position,
                achievement_id=achievement_id,
                name=item.name,
                tier=item.tier,
                certifies=[
                    CertifiedLevel(skill_id=s, level=level)
                    for s, level in sorted(item.levels.items(), key=lambda kv: str(kv[0]))
                ],
                closes=closed,
                bonus=bonus,
                prerequisite_for=[a for a in ordered if achievement_id in prerequisites.get(a, set())],
            )
        )
    return steps, unclosable, method, len(candidates)


async def recommend_achievements(
    session: AsyncSession,
    org_id: uuid.UUID,
    hris_id: str,
    role_id: uuid.UUID | None,
    *,
    taxonomy: TaxonomyClient,
    authorization: str,
    now: datetime | None = None,
) -> Recommendation:
    """The shortest ordered list of achievements closing every closable must-have gap of the employee."""
    now = now or utcnow()
    report = await compute_role_gap(session, org_id, hris_id, role_id, now=now)
    employee = await get_employee(session, org_id, hris_id)
    held = await held_achievements(session, org_id, employee.id, now)
    catalogue = parse_catalogue(await taxonomy.achievements_catalogue(org_id, authorization))
    prerequisites = direct_prerequisites(await taxonomy.pathways_catalogue(org_id, authorization))
    steps, unclosable, method, candidates = recommend(report.requirements, catalogue, prerequisites, held)
    return Recommendation(
        hris_id=report.hris_id,
        role_id=report.role_id,
        role_name=report.role_name,
        method=method,
        candidates_considered=candidates,
        must_have_gaps=report.must_have_gaps,
        closes_all_must_haves=not unclosable,
        steps=steps,
        unclosable=unclosable,
    )
