"""Governed versions of a taxonomy. The working tables are the open draft; every write records its
author on it. Submitting freezes the draft into a version (VersionEntity rows), reviewers score it
against the organisation's rubric (never its own authors), and an approved version is published: from
then on it is what the issuer and the gap engine read, and it never changes again.

Governance starts with an organisation's first publication: until then the working tables serve
everyone, as they always did."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import sqlalchemy
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.taxonomy_api.db.revisions import bump_revision
from services.taxonomy_api.db.tables import (
    Achievement,
    Capability,
    ReviewPolicy,
    Role,
    Skill,
    TaxonomyVersion,
    VersionEntity,
    VersionReview,
)
from services.taxonomy_api.domain import governance_log
from services.taxonomy_api.domain.version_content import (
    NOT_CONTENT,
    VersionContent,
    content_digest,
    read_working_taxonomy,
)
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable

FROZEN = ("in_review", "approved", "rejected", "published", "superseded")
CHUNK = 1_000

# The demo's review board (DESIGN §8: "a review board with a twelve-criterion rubric oversees a
# portfolio of about 195 micro-credentials"); the criteria are ours, each scored 0-4.
REVIEW_BOARD_RUBRIC: list[dict[str, Any]] = [
    {"key": key, "name": name, "description": description, "weight": weight, "max_score": 4}
    for key, name, description, weight in (
        ("alignment", "Competency alignment", "Each credential maps to job skills at stated levels.", 3),
        ("assessment", "Assessment quality", "Criteria demand proof of performance, not attendance.", 3),
        ("evidence", "Evidence required", "The evidence asked for shows the skill was used.", 2),
        ("levels", "Level descriptors", "Proficiency levels are distinct and observable.", 2),
        ("stacking", "Stackability", "Credentials build on each other along a pathway.", 2),
        ("kpi", "KPI anchor", "Each credential names the business measure it should move.", 2),
        ("recognition", "Issuer recognition", "Issuers are ones employers trust.", 2),
        ("currency", "Currency", "Skills reflect current practice; stale ones are retired.", 1),
        ("fairness", "Fairness and bias", "Criteria do not disadvantage groups unrelated to the skill.", 2),
        ("accessibility", "Accessibility", "Assessments can be taken with reasonable adjustments.", 1),
        ("learner_value", "Learner value", "Holders can use it for a move or a raise.", 1),
        ("soft_skills", "Soft-skill caution", "Soft skills say how reliably they are verified.", 1),
    )
]


# --- the draft and its authors -------------------------------------------------------------------


def record_author_sync(session: Session, org_id: uuid.UUID, actor: str) -> None:
    """Adds `actor` to the organisation's open draft, opening one if none is. Runs inside a flush
    (db/revisions.py), so it writes with Core on the flush's connection."""
    connection = session.connection()
    table = TaxonomyVersion.__table__
    draft = connection.execute(
        select(table.c.id, table.c.authors).where(table.c.org_id == org_id, table.c.status == "draft")
    ).first()
    if draft is None:
        number = connection.execute(select(func.coalesce(func.max(table.c.number), 0)).where(table.c.org_id == org_id))
        connection.execute(
            table.insert().values(
                id=uuid.uuid4(),
                org_id=org_id,
                number=number.scalar_one() + 1,
                status="draft",
                title="",
                notes="",
                authors=[actor],
                created_at=utcnow(),
                entity_count=0,
            )
        )
    elif actor not in draft.authors:
        connection.execute(table.update().where(table.c.id == draft.id).values(authors=[*draft.authors, actor]))


async def record_author(session: AsyncSession, org_id: uuid.UUID, actor: str) -> None:
    await session.run_sync(lambda sync: record_author_sync(sync, org_id, actor))


async def current_draft(session: AsyncSession, org_id: uuid.UUID) -> TaxonomyVersion | None:
    return await session.scalar(
        select(TaxonomyVersion).where(TaxonomyVersion.org_id == org_id, TaxonomyVersion.status == "draft")
    )


async def published_version(session: AsyncSession, org_id: uuid.UUID) -> TaxonomyVersion | None:
    return await session.scalar(
        select(TaxonomyVersion).where(TaxonomyVersion.org_id == org_id, TaxonomyVersion.status == "published")
    )


async def get_version(session: AsyncSession, org_id: uuid.UUID, version: str) -> TaxonomyVersion:
    """A version by id, or "draft" / "published"."""
    if version == "draft":
        found = await current_draft(session, org_id)
    elif version == "published":
        found = await published_version(session, org_id)
    else:
        try:
            version_id = uuid.UUID(version)
        except ValueError as exc:
            raise NotFound(f"No version {version!r}: use a version id, draft or published.") from exc
        found = await session.scalar(
            select(TaxonomyVersion).where(TaxonomyVersion.org_id == org_id, TaxonomyVersion.id == version_id)
        )
    if found is None:
        raise NotFound(f"No {version} version in this organisation.")
    return found


def describe_version(version: TaxonomyVersion) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(version.id),
        "number": version.number,
        "status": version.status,
        "title": version.title,
        "notes": version.notes,
        "authors": version.authors,
        "digest": version.digest,
        "entity_count": version.entity_count,
        "created_at": when(version.created_at),
        "submitted_by": version.submitted_by,
        "submitted_at": when(version.submitted_at),
        "decided_at": when(version.decided_at),
        "published_by": version.published_by,
        "published_at": when(version.published_at),
    }


# --- freezing ------------------------------------------------------------------------------------


def _version_digest(digests: list[str]) -> str:
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


async def submit(
    session: AsyncSession, org_id: uuid.UUID, actor: str, title: str, notes: str, base_url: str
) -> TaxonomyVersion:
    """Freezes the working taxonomy into a version in review. Refused when nothing changed since the
    version last published (or last submitted and still in review)."""
    content = await read_working_taxonomy(session, org_id, base_url)
    rows = [
        {
            "kind": kind,
            "entity_id": entity_id,
            "name": str(body.get("name") or body.get("identifier") or "")[:200],
            "digest": content_digest(body),
            "body": body,
        }
        for kind, entity_id, body in content.items()
    ]
    digest = _version_digest(
        [
            f"{row['kind']}:{row['entity_id']}:{row['digest']}"
            for row in sorted(rows, key=lambda row: (row["kind"], row["entity_id"]))
        ]
    )
    same = await session.scalar(
        select(TaxonomyVersion.number).where(
            TaxonomyVersion.org_id == org_id,
            TaxonomyVersion.status.in_(("in_review", "approved", "published")),
            TaxonomyVersion.digest == digest,
        )
    )
    if same is not None:
        raise Conflict(f"Nothing changed since version {same}: there is nothing to submit.")
    pending = await session.scalar(
        select(TaxonomyVersion.number).where(
            TaxonomyVersion.org_id == org_id, TaxonomyVersion.status.in_(("in_review", "approved"))
        )
    )
    if pending is not None:
        # One decision at a time: two versions in review could be published out of order.
        raise Conflict(f"Version {pending} is still in review or awaiting publication; decide it first.")
    version = await current_draft(session, org_id)
    if version is None:
        await record_author(session, org_id, actor)
        version = await current_draft(session, org_id)
        assert version is not None
    for row in rows:
        row["version_id"] = version.id
    for start in range(0, len(rows), CHUNK):
        await session.execute(VersionEntity.__table__.insert(), rows[start : start + CHUNK])
    version.status, version.title, version.notes = "in_review", title, notes
    version.submitted_by, version.submitted_at = actor, utcnow()
    version.digest, version.entity_count = digest, len(rows)
    if actor not in version.authors:
        version.authors = [*version.authors, actor]
    await governance_log.append(
        session,
        org_id,
        actor,
        "version.submitted",
        str(version.id),
        {"number": version.number, "digest": digest, "entities": len(rows), "authors": version.authors},
    )
    await session.flush()
    return version


async def frozen_body(session: AsyncSession, version_id: uuid.UUID, kind: str, entity_id: str) -> dict[str, Any]:
    body = await session.scalar(
        select(VersionEntity.body).where(
            VersionEntity.version_id == version_id, VersionEntity.kind == kind, VersionEntity.entity_id == entity_id
        )
    )
    if body is None:
        raise NotFound(f"No {kind} {entity_id} in this version.")
    return body


async def certified_skill_body(session: AsyncSession, version_id: uuid.UUID, skill_id: str) -> dict[str, Any]:
    """A skill of a published (or superseded) version that one of that version's achievements
    certifies: what a credential issued then cites. Any other skill is not public, and is the same 404
    as no skill at all."""
    body = await published_body(session, version_id, "skill", skill_id)
    candidates = await session.scalars(
        select(VersionEntity.body).where(
            VersionEntity.version_id == version_id,
            VersionEntity.kind == "achievement",
            # a cheap textual prefilter (the id is a UUID); the certification is checked on the bodies
            sqlalchemy.cast(VersionEntity.body, sqlalchemy.Text).contains(skill_id),
        )
    )
    if not any(
        skill_id == str(certified["skill_id"]) for achievement in candidates for certified in achievement["skills"]
    ):
        raise NotFound(f"No skill {skill_id} in this version.")
    return body


async def body_as_published(
    session: AsyncSession, org_id: uuid.UUID, kind: str, entity_id: str
) -> tuple[uuid.UUID, dict[str, Any]] | None:
    """The object as the organisation's published version has it, with that version's id; None while
    the organisation has never published (its working tables are then what everyone reads)."""
    published = await published_version(session, org_id)
    if published is None:
        return None
    return published.id, await frozen_body(session, published.id, kind, entity_id)


async def published_body(session: AsyncSession, version_id: uuid.UUID, kind: str, entity_id: str) -> dict[str, Any]:
    """An object of a published or superseded version, for public citation (no organisation asked)."""
    status = await session.scalar(select(TaxonomyVersion.status).where(TaxonomyVersion.id == version_id))
    if status not in ("published", "superseded"):
        raise NotFound(f"No published version {version_id}.")
    return await frozen_body(session, version_id, kind, entity_id)


# --- review policy and reviews -------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    criteria: list[dict[str, Any]]
    required_approvals: int
    pass_score: float

    def as_dict(self) -> dict[str, Any]:
        return {"criteria": self.criteria, "required_approvals": self.required_approvals, "pass_score": self.pass_score}


DEFAULT_POLICY = Policy(criteria=[], required_approvals=1, pass_score=0.0)


async def get_policy(session: AsyncSession, org_id: uuid.UUID) -> Policy:
    stored = await session.get(ReviewPolicy, org_id)
    if stored is None:
        return DEFAULT_POLICY
    return Policy(stored.criteria, stored.required_approvals, stored.pass_score)


async def set_policy(session: AsyncSession, org_id: uuid.UUID, actor: str, policy: Policy) -> Policy:
    keys = [criterion["key"] for criterion in policy.criteria]
    if len(set(keys)) != len(keys):
        raise Unprocessable("Criterion keys must be unique.", field="criteria")
    stored = await session.get(ReviewPolicy, org_id)
    if stored is None:
        stored = ReviewPolicy(org_id=org_id)
        session.add(stored)
    stored.criteria, stored.required_approvals, stored.pass_score = (
        policy.criteria,
        policy.required_approvals,
        policy.pass_score,
    )
    await governance_log.append(session, org_id, actor, "policy.changed", str(org_id), policy.as_dict())
    await session.flush()
    return policy


def _weighted_score(policy: Policy, scores: list[dict[str, Any]]) -> float:
    """Σ weight·score / Σ weight·max over the rubric; every criterion scored once, within its range."""
    if not policy.criteria:
        return 1.0
    given = {}
    for index, score in enumerate(scores):
        if score["criterion"] in given:
            raise Unprocessable(f"Criterion {score['criterion']!r} is scored twice.", field=f"scores.{index}")
        given[score["criterion"]] = score
    unknown = sorted(set(given) - {criterion["key"] for criterion in policy.criteria})
    if unknown:
        raise Unprocessable(f"Not in the rubric: {', '.join(unknown)}.", field="scores")
    total = best = 0.0
    for criterion in policy.criteria:
        score = given.get(criterion["key"])
        if score is None:
            raise Unprocessable(f"Criterion {criterion['key']!r} ({criterion['name']}) is not scored.", field="scores")
        if not 0 <= score["score"] <= criterion["max_score"]:
            raise Unprocessable(
                f"Criterion {criterion['key']!r} is scored 0 to {criterion['max_score']}, not {score['score']}.",
                field="scores",
            )
        total += criterion["weight"] * score["score"]
        best += criterion["weight"] * criterion["max_score"]
    return round(total / best, 4)


async def review(
    session: AsyncSession,
    org_id: uuid.UUID,
    version_id: uuid.UUID,
    reviewer: str,
    decision: str,
    scores: list[dict[str, Any]],
    comment: str,
) -> VersionReview:
    """One reviewer's decision. Separation of duties: nobody who wrote the draft or submitted it may
    review it. Enough approvals approve the version; one rejection rejects it."""
    version = await get_version(session, org_id, str(version_id))
    if version.status != "in_review":
        raise Conflict(f"Version {version.number} is {version.status}, not in review.")
    if reviewer in version.authors or reviewer == version.submitted_by:
        raise Forbidden(f"{reviewer} wrote or submitted version {version.number} and may not review it.")
    if await session.scalar(
        select(VersionReview.id).where(VersionReview.version_id == version.id, VersionReview.reviewer == reviewer)
    ):
        raise Conflict(f"{reviewer} has already reviewed version {version.number}.")
    policy = await get_policy(session, org_id)
    weighted = _weighted_score(policy, scores)
    if decision == "approve" and weighted < policy.pass_score:
        raise Unprocessable(
            f"An approval needs a weighted score of at least {policy.pass_score:g}; these scores give {weighted:g}.",
            field="scores",
        )
    entry = VersionReview(
        version_id=version.id,
        reviewer=reviewer,
        decision=decision,
        scores=scores,
        weighted_score=weighted,
        comment=comment,
    )
    session.add(entry)
    await session.flush()
    approvals = await session.scalar(
        select(func.count()).where(VersionReview.version_id == version.id, VersionReview.decision == "approve")
    )
    if decision == "reject":
        version.status, version.decided_at = "rejected", utcnow()
    elif approvals >= policy.required_approvals:
        version.status, version.decided_at = "approved", utcnow()
    await governance_log.append(
        session,
        org_id,
        reviewer,
        f"version.reviewed.{decision}",
        str(version.id),
        {"number": version.number, "weighted_score": weighted, "scores": scores, "status": version.status},
    )
    await session.flush()
    return entry


def describe_review(entry: VersionReview) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "version_id": str(entry.version_id),
        "reviewer": entry.reviewer,
        "decision": entry.decision,
        "scores": entry.scores,
        "weighted_score": entry.weighted_score,
        "comment": entry.comment,
        "created_at": entry.created_at.isoformat(),
    }


async def reviews_of(session: AsyncSession, version_id: uuid.UUID) -> list[VersionReview]:
    return list(
        await session.scalars(
            select(VersionReview).where(VersionReview.version_id == version_id).order_by(VersionReview.created_at)
        )
    )


async def reviews_by_version(
    session: AsyncSession, version_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[VersionReview]]:
    """The reviews of several versions in one query, each version's in order (empty lists included)."""
    found: dict[uuid.UUID, list[VersionReview]] = {version_id: [] for version_id in version_ids}
    rows = await session.scalars(
        select(VersionReview).where(VersionReview.version_id.in_(version_ids)).order_by(VersionReview.created_at)
    )
    for entry in rows:
        found[entry.version_id].append(entry)
    return found


async def publish(session: AsyncSession, org_id: uuid.UUID, version_id: uuid.UUID, actor: str) -> TaxonomyVersion:
    """Makes an approved version the current one; the one before stays resolvable, superseded."""
    version = await get_version(session, org_id, str(version_id))
    if version.status != "approved":
        raise Conflict(f"Version {version.number} is {version.status}; only an approved version is published.")
    await session.execute(
        update(TaxonomyVersion)
        .where(TaxonomyVersion.org_id == org_id, TaxonomyVersion.status == "published")
        .values(status="superseded")
    )
    version.status, version.published_by, version.published_at = "published", actor, utcnow()
    approvers = [entry.reviewer for entry in await reviews_of(session, version.id) if entry.decision == "approve"]
    await governance_log.append(
        session,
        org_id,
        actor,
        "version.published",
        str(version.id),
        {"number": version.number, "digest": version.digest, "approved_by": approvers},
    )
    # Published reads (the issuer's, the gap engine's) are cached by the taxonomy revision.
    await bump_revision(session, org_id)
    await session.flush()
    return version


# --- diff ----------------------------------------------------------------------------------------


async def _digests(session: AsyncSession, version_id: uuid.UUID) -> dict[tuple[str, str], str]:
    rows = await session.execute(
        select(VersionEntity.kind, VersionEntity.entity_id, VersionEntity.digest).where(
            VersionEntity.version_id == version_id
        )
    )
    return {(kind, entity_id): digest for kind, entity_id, digest in rows}


async def _bodies(session: AsyncSession, version_id: uuid.UUID, keys: list[tuple[str, str]]) -> dict:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, entity_id in keys:
        by_kind.setdefault(kind, []).append(entity_id)
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), CHUNK):
            rows = await session.execute(
                select(VersionEntity.entity_id, VersionEntity.body).where(
                    and_(
                        VersionEntity.version_id == version_id,
                        VersionEntity.kind == kind,
                        VersionEntity.entity_id.in_(ids[start : start + CHUNK]),
                    )
                )
            )
            found.update({(kind, entity_id): body for entity_id, body in rows})
    return found


class _Side:
    """One side of a diff: a frozen version (digests in SQL, bodies read on demand) or the draft."""

    def __init__(self, digests: dict[tuple[str, str], str], bodies: Any) -> None:
        self.digests, self.bodies = digests, bodies


async def _side(session: AsyncSession, org_id: uuid.UUID, version: str, base_url: str) -> tuple[str, _Side]:
    if version == "draft":
        content: VersionContent = await read_working_taxonomy(session, org_id, base_url)
        documents = {(kind, entity_id): body for kind, entity_id, body in content.items()}
        digests = {key: content_digest(body) for key, body in documents.items()}

        async def bodies(keys: list[tuple[str, str]]) -> dict:
            return {key: documents[key] for key in keys}

        return "draft", _Side(digests, bodies)
    found = await get_version(session, org_id, version)
    if found.status == "draft":
        return await _side(session, org_id, "draft", base_url)

    async def frozen(keys: list[tuple[str, str]]) -> dict:
        return await _bodies(session, found.id, keys)

    return f"version {found.number}", _Side(await _digests(session, found.id), frozen)


# Lists compared item by item, by the key each item is unique on, named by its name field: one changed
# level of a role's requirement reads as one change, not as the whole list.
KEYED_LISTS = {
    "requirements": ("skill_id", "skill_name", ("level", "weight", "criticality")),
    "skills": ("skill_id", "skill_name", ("level",)),
    "steps": ("achievement_id", "achievement_name", ("prerequisites",)),
}


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Field by field; lists of requirements, certified skills and pathway steps item by item."""
    changes = []
    for key in sorted(set(before) | set(after)):
        if key in NOT_CONTENT or before.get(key) == after.get(key):
            continue
        if key in KEYED_LISTS:
            changes.extend(_item_changes(key, before.get(key) or [], after.get(key) or []))
            continue
        changes.append({"field": key, "from": before.get(key), "to": after.get(key)})
    return changes


def _item_changes(field: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key, label, parts = KEYED_LISTS[field]
    old = {item[key]: item for item in before}
    new = {item[key]: item for item in after}
    changes = []
    for item_key in sorted(set(old) | set(new)):
        a, b = old.get(item_key), new.get(item_key)
        if a == b:
            continue
        name = (b or a or {}).get(label, item_key)
        if a is None or b is None:
            changes.append({"field": f"{field}[{name}]", "from": a, "to": b})
            continue
        for part in parts:
            if a.get(part) != b.get(part):
                changes.append({"field": f"{field}[{name}].{part}", "from": a.get(part), "to": b.get(part)})
    return changes


async def diff(session: AsyncSession, org_id: uuid.UUID, version_a: str, version_b: str, base_url: str) -> dict:
    """What changed from `version_a` to `version_b` (ids, "published" or "draft"), by kind: added and
    removed objects by id and name, changed ones field by field. Digests are compared first, so only
    changed objects' documents are read."""
    label_a, a = await _side(session, org_id, version_a, base_url)
    label_b, b = await _side(session, org_id, version_b, base_url)
    added = sorted(set(b.digests) - set(a.digests))
    removed = sorted(set(a.digests) - set(b.digests))
    changed = sorted(key for key in set(a.digests) & set(b.digests) if a.digests[key] != b.digests[key])
    after = await b.bodies(added + changed)
    before = await a.bodies(removed + changed)
    kinds: dict[str, dict[str, list]] = {}

    def bucket(kind: str) -> dict[str, list]:
        return kinds.setdefault(kind, {"added": [], "removed": [], "changed": []})

    for key in added:
        bucket(key[0])["added"].append({"id": key[1], "name": _name(after[key])})
    for key in removed:
        bucket(key[0])["removed"].append({"id": key[1], "name": _name(before[key])})
    for key in changed:
        changes = field_changes(before[key], after[key])
        bucket(key[0])["changed"].append({"id": key[1], "name": _name(after[key]), "changes": changes})
    return {"from": label_a, "to": label_b, "kinds": kinds}


def _name(body: dict[str, Any]) -> str:
    return str(body.get("name") or body.get("identifier") or body.get("id"))


def summary_text(difference: dict[str, Any], *, max_lines: int = 200) -> str:
    """The diff for people: a line per kind, then a line per changed field (up to max_lines)."""
    lines = [f"From {difference['from']} to {difference['to']}:"]
    details: list[str] = []
    for kind, parts in sorted(difference["kinds"].items()):
        counts = [f"{len(parts[what])} {what}" for what in ("added", "removed", "changed") if parts[what]]
        lines.append(f"- {kind}: {', '.join(counts)}")
        for what in ("added", "removed"):
            details.extend(f"  {kind} {entry['name']!r} {what}" for entry in parts[what])
        for entry in parts["changed"]:
            for change in entry["changes"]:
                details.append(
                    f"  {kind} {entry['name']!r}: {change['field']} {_short(change['from'])} -> {_short(change['to'])}"
                )
    if len(lines) == 1:
        lines.append("- no changes")
    shown = details[:max_lines]
    if len(details) > max_lines:
        shown.append(f"  … and {len(details) - max_lines} more (the JSON diff has them all)")
    return "\n".join(lines + shown) + "\n"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- the review cycle ----------------------------------------------------------------------------


async def overdue(session: AsyncSession, org_id: uuid.UUID, before: date, limit: int) -> list[dict[str, Any]]:
    """Skills, capabilities, roles and achievements whose review-by day is before `before`, oldest first."""
    found: list[dict[str, Any]] = []
    for kind, table in (("skill", Skill), ("capability", Capability), ("role", Role), ("achievement", Achievement)):
        rows = await session.execute(
            select(table.id, table.name, table.owner, table.review_by)
            .where(table.org_id == org_id, table.review_by.is_not(None), table.review_by < before)
            .order_by(table.review_by, table.name)
            .limit(limit)
        )
        found.extend(
            {
                "kind": kind,
                "id": str(row.id),
                "name": row.name,
                "owner": row.owner,
                "review_by": row.review_by.isoformat(),
            }
            for row in rows
        )
    found.sort(key=lambda item: (item["review_by"], item["kind"], item["name"]))
    return found[:limit]


async def tell_gap_engine(gap_engine_url: str | None, authorization: str, timeout_seconds: float) -> str:
    """Asks the gap engine to re-read the roles and re-map the credentials it holds, now that another
    version is published. Best effort, after the commit: the answer says whether it happened, and if
    not the gap engine's POST /v1/taxonomy/refresh does the same by hand."""
    if not gap_engine_url:
        return "not configured"
    try:
        async with httpx.AsyncClient(base_url=gap_engine_url, timeout=timeout_seconds) as http:
            answer = await http.post("/v1/taxonomy/refresh", headers={"Authorization": authorization})
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}; call the gap engine's POST /v1/taxonomy/refresh"
    if answer.status_code != 200:
        return f"failed: the gap engine answered {answer.status_code}; call its POST /v1/taxonomy/refresh"
    refreshed = answer.json()
    return (
        f"done: {refreshed.get('roles_synced', 0)} roles re-read, "
        f"{refreshed.get('credentials_remapped', 0)} credentials re-mapped"
    )
