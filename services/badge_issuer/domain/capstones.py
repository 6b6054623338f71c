"""Stackable pathways: the capstone credential awarded when an issuance completes a pathway.

taxonomy_api owns the pathways and the rule for completing one (its progress endpoint); this module
asks it, with the caller's token, and issues each due capstone inside the issuance's transaction. A
capstone is awarded once per learner and achievement: the unique constraint on the credentials table
holds even when two results complete the pathway at the same moment (the later one skips it).

Two results for different steps of one pathway, issued at the same moment (two replicas, two requests),
would each see only their own step under READ COMMITTED, and neither would award the capstone. So the
learner's pathways are checked one transaction at a time: a transaction lock per organisation and
learner (PostgreSQL advisory lock, bounded by lock_timeout), taken only when the credential is a step of
some pathway that the learner did not hold before; the second waits for the first to commit and then sees
both steps. A step held already (committed) is seen by every concurrent transaction, so issuing it again
takes no lock. SQLite has one writer, so its transactions are already one at a time.
"""

import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Select, String, TextClause, Uuid, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Credential
from services.badge_issuer.domain import credentials, issuance_rows
from services.badge_issuer.ob3 import credential as ob3_credential

# A capstone can itself be a step of another pathway; the chain is followed this deep at most.
MAX_CHAIN = 10


async def held_achievements(
    session: AsyncSession,
    org_id: uuid.UUID,
    learner_key: str,
    *,
    among: Collection[uuid.UUID],
    besides: uuid.UUID | None = None,
) -> set[uuid.UUID]:
    """Which of the achievements `among` the learner holds in this organisation: credentials issued and
    not revoked (other than the credential `besides`).

    Only the achievements of the pathways in question are asked for, each once (DISTINCT): a learner who
    holds thousands of credentials (one achievement earned again and again) costs one row per
    achievement that matters, not one per credential, on every issuance."""
    deferred = issuance_rows.DeferredIssuances.of(session)
    if deferred is None:
        return await _held_in_database(session, org_id, learner_key, among, besides)
    # A bulk group reads a learner's rows once, and adds what it holds in memory. Taking the learner's
    # lock forgets that read (_one_transaction_per_learner), so the read after the lock is fresh, and
    # from then on no other transaction adds a step of theirs until the group commits. A step committed
    # by another transaction before that is its own to complete a pathway with (it read under the lock),
    # as beside a single POST; a revocation committed meanwhile is seen by the next group.
    cache_key = (learner_key, frozenset(among))
    stored = deferred.read_cache.get(cache_key)
    if stored is None:
        stored = deferred.read_cache[cache_key] = await _held_in_database(session, org_id, learner_key, among, None)
    return stored | deferred.held_by(learner_key, set(among), besides)


async def _held_in_database(
    session: AsyncSession,
    org_id: uuid.UUID,
    learner_key: str,
    among: Collection[uuid.UUID],
    besides: uuid.UUID | None,
) -> set[uuid.UUID]:
    parameters = {"org_id": org_id, "learner_key": learner_key, "among": sorted(set(among), key=str)}
    if besides is not None:
        parameters["besides"] = besides
    return set(await session.scalars(_held_statement(besides is not None), parameters))


@functools.cache
def _held_statement(besides: bool) -> Select:
    """Built once per shape, with bound parameters (the IN list expanding): building it per issuance
    cost more than running it."""
    statement = (
        select(Credential.achievement_id)
        .distinct()
        .where(
            Credential.org_id == bindparam("org_id", type_=Uuid),
            Credential.learner_key == bindparam("learner_key"),
            Credential.revoked_at.is_(None),
            Credential.achievement_id.in_(bindparam("among", expanding=True, type_=Uuid)),
        )
    )
    return statement.where(Credential.id != bindparam("besides", type_=Uuid)) if besides else statement


async def prepare_group(
    session: AsyncSession,
    org_id: uuid.UUID,
    intended: Sequence[tuple[str, uuid.UUID]],
    context: "credentials.IssuanceContext",
) -> None:
    """A bulk group's pathway reads and learner locks for all its (learner key, achievement) issuances
    at once, before the first: one read of what the learners hold, one statement locking those for
    whom an achievement is a new step (in lock order, so two groups never wait on each other in a
    cycle), and one read after it. Each item then finds its answers in the group's read cache and
    takes no lock of its own: 3 round trips a group, not 3 an item. The reads and locks are the ones
    the items would make (award_completed_pathways), so what each item sees is unchanged.

    PostgreSQL bulk groups only (DeferredIssuances); elsewhere there is nothing to prepare."""
    deferred = issuance_rows.DeferredIssuances.of(session)
    if deferred is None or session.bind.dialect.name != "postgresql":
        return
    steps_of: dict[uuid.UUID, frozenset[uuid.UUID]] = {}
    for achievement_id in dict.fromkeys(achievement for _, achievement in intended):
        pathways = await context.taxonomy.pathways_containing(achievement_id, context.authorization)
        steps_of[achievement_id] = frozenset(pathway_achievements(pathways)) if pathways else frozenset()
    wanted = [
        (learner, achievement, steps_of[achievement]) for learner, achievement in intended if steps_of[achievement]
    ]
    if not wanted:
        return
    among = frozenset().union(*(steps for _, _, steps in wanted))
    held = await _held_by_learners(session, org_id, {learner for learner, _, _ in wanted}, among)
    new_step = {learner for learner, achievement, _ in wanted if achievement not in held[learner]}
    to_lock = new_step - deferred.locked_learners
    if to_lock:
        await _lock_learners(session, org_id, to_lock)
        deferred.locked_learners.update(to_lock)
        held.update(await _held_by_learners(session, org_id, to_lock, among))
    for learner, _, steps in wanted:
        deferred.read_cache[(learner, steps)] = held[learner] & steps


async def _held_by_learners(
    session: AsyncSession, org_id: uuid.UUID, learners: Collection[str], among: Collection[uuid.UUID]
) -> dict[str, set[uuid.UUID]]:
    """held_achievements of many learners in one read: per learner, which of `among` they hold."""
    held: dict[str, set[uuid.UUID]] = {learner: set() for learner in learners}
    parameters = {"org_id": org_id, "learners": sorted(learners), "among": sorted(set(among), key=str)}
    for learner, achievement in await session.execute(_held_by_learners_statement(), parameters):
        held[learner].add(achievement)
    return held


@functools.cache
def _held_by_learners_statement() -> Select:
    """Arrays (= ANY), not expanding IN lists: a group's hundreds of learners are one parameter, with no
    statement rewritten per call for their number."""
    return (
        select(Credential.learner_key, Credential.achievement_id)
        .distinct()
        .where(
            Credential.org_id == bindparam("org_id", type_=Uuid),
            Credential.learner_key == any_(bindparam("learners", type_=ARRAY(String))),
            Credential.revoked_at.is_(None),
            Credential.achievement_id == any_(bindparam("among", type_=ARRAY(Uuid))),
        )
    )


async def _lock_learners(session: AsyncSession, org_id: uuid.UUID, learner_keys: Collection[str]) -> None:
    """Each learner's pathway lock until this transaction ends. One statement for a single POST's one
    learner and a bulk group's many, so both name and hash a learner's lock the same way."""
    keys = [f"capstones:{org_id}:{learner_key}" for learner_key in learner_keys]
    await session.execute(_locks_statement(), {"keys": keys})


@functools.cache
def _locks_statement() -> TextClause:
    """Locks taken in the order of their numbers (two groups never wait on each other in a cycle), the
    subquery keeping the lock calls to its rows."""
    return text(
        "SELECT pg_advisory_xact_lock(lock) FROM "
        "(SELECT DISTINCT hashtextextended(name, 0) AS lock FROM unnest(:keys) AS name ORDER BY lock) AS locks"
    ).bindparams(bindparam("keys", type_=ARRAY(String)))


def pathway_achievements(pathways: Sequence[dict]) -> set[uuid.UUID]:
    """Every step and capstone of `pathways`: all that deciding whether one is due looks at."""
    found = {uuid.UUID(str(step["achievement_id"])) for pathway in pathways for step in pathway["steps"]}
    found.update(uuid.UUID(str(p["capstone_achievement_id"])) for p in pathways if p.get("capstone_achievement_id"))
    return found


async def award_completed_pathways(
    session: AsyncSession,
    org_id: uuid.UUID,
    profile: "credentials.IssuingProfile",
    issued: Credential,
    subject: "credentials.Subject",
    context: "credentials.IssuanceContext",
) -> Sequence[Credential]:
    """Issue the capstone of every pathway `issued` completes (and of those the capstones complete).

    The organisation's pathways come from the taxonomy client's cached index, so an achievement that
    is a step of no pathway costs nothing here: no query, no request."""
    awarded: list[Credential] = []
    pending = [issued]
    for _ in range(MAX_CHAIN):
        if not pending:
            break
        trigger = pending.pop(0)
        pathways = await context.taxonomy.pathways_containing(trigger.achievement_id, context.authorization)
        if not pathways:
            continue
        among = pathway_achievements(pathways)
        if trigger is issued:
            held = await held_achievements(session, org_id, subject.key, among=among, besides=issued.id)
            if issued.achievement_id not in held:  # a new step: another may be committing beside it
                await _one_transaction_per_learner(session, org_id, subject.key)
                held = await held_achievements(session, org_id, subject.key, among=among)
            held.add(issued.achievement_id)
        else:
            held = await held_achievements(session, org_id, subject.key, among=among)
        for pathway in pathways:
            if not _may_be_due(pathway, held):
                continue
            capstone = await _award_if_due(session, org_id, profile, trigger, pathway, held, subject, context)
            if capstone is not None:
                awarded.append(capstone)
                pending.append(capstone)
                held.add(capstone.achievement_id)
    return awarded


async def _one_transaction_per_learner(session: AsyncSession, org_id: uuid.UUID, learner_key: str) -> None:
    """Until this transaction ends, another one checking this learner's pathways waits here."""
    deferred = issuance_rows.DeferredIssuances.of(session)
    if deferred is not None:  # a bulk group takes each learner's lock once
        if learner_key in deferred.locked_learners:
            return
        deferred.locked_learners.add(learner_key)
        deferred.forget_reads_of(learner_key)
    if session.bind.dialect.name == "postgresql":
        await _lock_learners(session, org_id, [learner_key])


def _may_be_due(pathway: dict, held: set[uuid.UUID]) -> bool:
    """A pathway is complete only when every step is held, and its capstone is due only when not held
    yet: taxonomy_api's progress endpoint, which owns the rules, is asked only when both could be true."""
    capstone = pathway.get("capstone_achievement_id")
    if not capstone or uuid.UUID(str(capstone)) in held:
        return False
    return all(uuid.UUID(str(step["achievement_id"])) in held for step in pathway["steps"])


async def _award_if_due(
    session: AsyncSession,
    org_id: uuid.UUID,
    profile: "credentials.IssuingProfile",
    trigger: Credential,
    pathway: dict,
    held: set[uuid.UUID],
    subject: "credentials.Subject",
    context: "credentials.IssuanceContext",
) -> Credential | None:
    pathway_id = uuid.UUID(pathway["id"])
    progress = await context.taxonomy.pathway_progress(pathway_id, sorted(held, key=str), context.authorization)
    if not progress["complete"] or progress["capstone_held"] or not progress["capstone_achievement_id"]:
        return None
    capstone_id = uuid.UUID(progress["capstone_achievement_id"])
    achievement = await context.taxonomy.achievement(capstone_id, context.authorization)
    deferred = issuance_rows.DeferredIssuances.of(session)
    if deferred is not None:  # the steps are read from the database: the group's own must be there
        await deferred.send(session)
    steps = await session.scalars(
        select(Credential).where(
            Credential.org_id == org_id,
            Credential.learner_key == subject.key,
            Credential.revoked_at.is_(None),
            Credential.achievement_id.in_([uuid.UUID(step["achievement_id"]) for step in pathway["steps"]]),
        )
    )
    steps = list(steps)
    step_urls = sorted({credentials.public_credential_url(context.base_url, step.id) for step in steps})
    # The pathway was complete when its last step was earned, not when this request came in.
    awarded_at = max((_awarded_at(step) for step in steps), default=trigger.issued_at)
    narrative = f"Awarded for completing the pathway {pathway['name']}: every step credential is listed as evidence."
    try:
        async with session.begin_nested():
            return await credentials.sign_and_store(
                session,
                org_id,
                profile,
                achievement,
                subject,
                context,
                proof_format=trigger.proof_format,
                assessment_result=None,
                results=[],
                activity_end=None,
                awarded_at=awarded_at,
                evidence=ob3_credential.evidence_entries(step_urls, narrative, None),
                capstone_pathway_id=pathway_id,
            )
    except IntegrityError:
        return None  # a concurrent issuance awarded this capstone first


def _awarded_at(credential: Credential) -> datetime:
    """A step's awardedDate (when it was earned), else its issuance time."""
    value = credential.document.get("awardedDate") if isinstance(credential.document, dict) else None
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else credential.issued_at
    except ValueError:
        return credential.issued_at
