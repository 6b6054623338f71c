"""An employee's wallet: their credentials, their progress along the organisation's pathways, the
signed links that show it to someone without an account, and the portable export.

The wallet is the same query as `GET /v1/credentials?learner=` (credentials.credential_page), by the
learner keys credentials are stored under. Pathway progress is taxonomy_api's judgement (its public
progress route, since neither a wallet page nor a shared link carries an API token), never worked
out here. A link's token is random and only its SHA-256 is stored, so the table alone opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Credential, WalletLink
from services.badge_issuer.domain import audit, credentials
from services.badge_issuer.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.errors import NotFound, ProblemError, Unprocessable
from shared.timestamps import parse_timestamp

MAX_LINK_DAYS = 90
_PAGE = 200
# A wallet larger than this is cut (and says so): a page, not a bulk export of the organisation.
MAX_WALLET_CREDENTIALS = 2_000
_MAX_TOKEN_LENGTH = 100
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"


class LinkGone(ProblemError):
    """The link existed, but has expired or was revoked: whoever holds it should ask for a new one."""

    status, title, type_slug = 410, "Link no longer valid", "wallet-link-gone"


@dataclass(frozen=True, slots=True)
class Holder:
    """Whose wallet: a learner of an organisation, by HRIS id and/or email address."""

    org_id: uuid.UUID
    hris_id: str | None
    email: str | None
    name: str | None = None

    @property
    def learner_keys(self) -> list[str]:
        """The keys credentials are stored under for this learner (see credentials.Subject.key)."""
        keys = [f"hris:{self.hris_id}"] if self.hris_id else []
        return keys + ([f"email:{self.email.strip().lower()}"] if self.email else [])


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """One credential as the wallet shows it, read from the document as issued."""

    id: uuid.UUID
    name: str
    issuer_name: str
    awarded_at: datetime | None
    tier: str | None
    capstone: bool
    proof_format: str
    revoked_at: datetime | None
    revocation_reason: str | None
    public_url: str


@dataclass(frozen=True, slots=True)
class StepStanding:
    achievement_id: str
    name: str
    tier: str
    # "held", "available" (every prerequisite held) or "locked" (a prerequisite is missing).
    state: str


@dataclass(frozen=True, slots=True)
class PathwayStanding:
    """A pathway the learner has started, with the taxonomy's progress answer kept as it came."""

    id: str
    name: str
    description: str
    steps: list[StepStanding]
    capstone_id: str | None
    capstone_name: str | None
    progress: dict[str, Any]

    @property
    def held_count(self) -> int:
        return len(self.progress["held"])

    @property
    def step_count(self) -> int:
        return len(self.steps)


@dataclass(frozen=True, slots=True)
class Wallet:
    holder: Holder
    entries: list[WalletEntry]
    rows: list[Credential]
    truncated: bool

    @property
    def held_achievements(self) -> set[uuid.UUID]:
        """What counts toward pathways: credentials not revoked (as capstones.held_achievements)."""
        return {row.achievement_id for row in self.rows if row.revoked_at is None}


async def open_wallet(session: AsyncSession, holder: Holder, base_url: str) -> Wallet:
    """Every credential of the holder in their organisation, oldest first, revoked ones included."""
    rows: list[Credential] = []
    cursor = None
    keys = holder.learner_keys
    while keys:
        page, cursor = await credentials.credential_page(
            session, holder.org_id, None, learner_keys=keys, cursor=cursor, limit=_PAGE
        )
        rows += page
        if not cursor or len(rows) >= MAX_WALLET_CREDENTIALS:
            break
    truncated = cursor is not None
    rows = rows[:MAX_WALLET_CREDENTIALS]
    return Wallet(holder, [_entry(row, base_url) for row in rows], rows, truncated)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entry(row: Credential, base_url: str) -> WalletEntry:
    document = _mapping(row.document)
    achievement = _mapping(_mapping(document.get("credentialSubject")).get("achievement"))
    issuer = document.get("issuer")
    issuer_name = issuer if isinstance(issuer, str) else _mapping(issuer).get("name") or _mapping(issuer).get("id")
    return WalletEntry(
        id=row.id,
        name=str(achievement.get("name") or document.get("name") or "Open Badge"),
        issuer_name=str(issuer_name or "Unknown issuer"),
        awarded_at=parse_timestamp(document.get("awardedDate")) or parse_timestamp(document.get("validFrom")),
        tier=row.achievement_tier,
        capstone=row.capstone_achievement_id is not None,
        proof_format=row.proof_format,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        public_url=credentials.public_credential_url(base_url, row.id),
    )


async def pathway_standings(taxonomy: TaxonomyClient, held: set[uuid.UUID]) -> list[PathwayStanding]:
    """The pathways the learner has started (holds at least one step of), by name, each with the
    taxonomy's progress for exactly `held`. An achievement the taxonomy no longer has is skipped;
    the taxonomy being unreachable raises ServiceUnavailable (the page says so and shows the rest)."""
    started: dict[str, dict[str, Any]] = {}
    for achievement_id in sorted(held, key=str):
        try:
            found = await taxonomy.public_pathways_with_step(achievement_id)
        except NotFound:
            continue
        for pathway in found:
            started.setdefault(pathway["id"], pathway)
    held_list = sorted(held, key=str)
    standings = []
    for pathway in sorted(started.values(), key=lambda item: (item["name"], item["id"])):
        progress = await taxonomy.pathway_progress(uuid.UUID(pathway["id"]), held_list, None)
        standings.append(_standing(pathway, progress, await _capstone_name(taxonomy, progress)))
    return standings


def _standing(pathway: dict[str, Any], progress: dict[str, Any], capstone_name: str | None) -> PathwayStanding:
    held, open_now = set(progress["held"]), set(progress["available_now"])

    def state(achievement_id: str) -> str:
        return "held" if achievement_id in held else "available" if achievement_id in open_now else "locked"

    steps = [
        StepStanding(step["achievement_id"], step["achievement_name"], step["tier"], state(step["achievement_id"]))
        for step in pathway["steps"]
    ]
    return PathwayStanding(
        id=pathway["id"],
        name=pathway["name"],
        description=pathway.get("description") or "",
        steps=steps,
        capstone_id=progress["capstone_achievement_id"],
        capstone_name=capstone_name,
        progress=progress,
    )


async def _capstone_name(taxonomy: TaxonomyClient, progress: dict[str, Any]) -> str | None:
    capstone = progress.get("capstone_achievement_id")
    if not capstone:
        return None
    try:
        return str((await taxonomy.public_achievement(uuid.UUID(capstone))).get("name") or "Capstone")
    except NotFound:
        return "Capstone"


def portable_export(rows: Iterable[Credential]) -> dict[str, Any]:
    """The holder's current credentials as an unsigned W3C VC 2.0 VerifiablePresentation: a Data
    Integrity credential as its signed JSON-LD document, a VC-JWT as an EnvelopedVerifiableCredential
    whose id is the compact JWT in a data: URL. Revoked credentials are left out (no verifier would
    take them). Unsigned because only the holder could sign a presentation, and the issuer is not them."""
    return {
        "@context": [VC_V2_CONTEXT],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [_as_presented(row) for row in rows if row.revoked_at is None],
    }


def _as_presented(row: Credential) -> dict[str, Any]:
    if row.compact_jwt:
        return {
            "@context": VC_V2_CONTEXT,
            "id": f"data:application/vc+jwt,{row.compact_jwt}",
            "type": "EnvelopedVerifiableCredential",
        }
    return row.document


# --- signed links --------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def shared_wallet_url(page_base_url: str, token: str) -> str:
    return f"{page_base_url.rstrip('/')}/wallet/shared/{token}"


async def create_link(session: AsyncSession, holder: Holder, *, days: int, created_by: str) -> tuple[WalletLink, str]:
    """A new link to the holder's wallet, valid for `days` (1 to 90); returns it with its token,
    which is never stored and so can be shown only now. Audited (not committed)."""
    if not 1 <= days <= MAX_LINK_DAYS:
        raise Unprocessable(f"A wallet link lasts 1 to {MAX_LINK_DAYS} days.", field="days")
    if not holder.learner_keys:
        raise Unprocessable("A wallet link needs the learner's HRIS id or email address.")
    token = secrets.token_urlsafe(32)
    link = WalletLink(
        org_id=holder.org_id,
        token_hash=_token_hash(token),
        learner_hris_id=holder.hris_id,
        learner_email=holder.email.strip().lower() if holder.email else None,
        holder_name=holder.name,
        created_by=created_by,
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(link)
    await session.flush()
    detail = {"learner_hris_id": holder.hris_id, "expires_at": link.expires_at.isoformat()}
    audit.record(session, holder.org_id, "wallet_link.created", str(link.id), created_by, detail)
    return link, token


async def open_link(session: AsyncSession, token: str) -> WalletLink:
    """The live link `token` opens: 404 when none, 410 when it expired or was revoked."""
    link = None
    if 0 < len(token) <= _MAX_TOKEN_LENGTH:
        link = await session.scalar(select(WalletLink).where(WalletLink.token_hash == _token_hash(token)))
    if link is None:
        raise NotFound("No wallet link matches this address; check that it was copied whole.")
    if link.revoked_at is not None:
        raise LinkGone("Its owner withdrew this wallet link; ask them for a new one.")
    if link.expires_at <= utcnow():
        raise LinkGone(f"This wallet link expired on {link.expires_at:%d %B %Y}; ask its owner for a new one.")
    return link


def link_holder(link: WalletLink) -> Holder:
    return Holder(link.org_id, link.learner_hris_id, link.learner_email, link.holder_name)


def _owned_by(holder: Holder) -> Any:
    """A holder's links: those for their HRIS id, and email-only ones for their address."""
    conditions = []
    if holder.hris_id:
        conditions.append(WalletLink.learner_hris_id == holder.hris_id)
    if holder.email:
        conditions.append(
            and_(WalletLink.learner_hris_id.is_(None), WalletLink.learner_email == holder.email.strip().lower())
        )
    return or_(*conditions) if conditions else WalletLink.id.is_(None)


async def holder_links(session: AsyncSession, holder: Holder) -> Sequence[WalletLink]:
    """The holder's links, newest first, expired and revoked ones included (the page marks them)."""
    rows = await session.scalars(
        select(WalletLink)
        .where(WalletLink.org_id == holder.org_id, _owned_by(holder))
        .order_by(WalletLink.created_at.desc(), WalletLink.id)
        .limit(100)
    )
    return list(rows)


async def revoke_link(
    session: AsyncSession, org_id: uuid.UUID, link_id: uuid.UUID, actor: str, *, holder: Holder | None = None
) -> WalletLink:
    """Ends a link at once (a second revocation changes nothing). With `holder`, only their own link."""
    statement = select(WalletLink).where(WalletLink.id == link_id, WalletLink.org_id == org_id)
    if holder is not None:
        statement = statement.where(_owned_by(holder))
    link = await session.scalar(statement)
    if link is None:
        raise NotFound(f"No wallet link {link_id}.")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.record(session, org_id, "wallet_link.revoked", str(link.id), actor, {})
        await session.flush()
    return link


def link_state(link: WalletLink, now: datetime | None = None) -> str:
    """ "active", "expired" or "revoked"."""
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= (now or utcnow()) else "active"
