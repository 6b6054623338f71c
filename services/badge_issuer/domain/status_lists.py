"""Bitstring status lists in the database: index allocation without reuse, and the signed list.

Each list belongs to one signing key and is signed by it, so the list's issuer is the issuer of
every credential it covers (verifiers check that they match; with did:key the DID is the key).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Credential, IssuerKey, StatusList
from services.badge_issuer.domain.issuers import unlock
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.proofs import data_integrity
from services.badge_issuer.status_list import (
    MIN_ENTRIES,
    REVOCATION,
    Bitstring,
    build_status_list_credential,
    build_status_list_entry,
)
from shared.errors import NotFound

PUBLIC_PATH = "/v1/public/status-lists/"


def status_list_url(base_url: str, status_list_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}{PUBLIC_PATH}{status_list_id}"


def status_list_id_from_url(base_url: str, url: str) -> uuid.UUID | None:
    """The id of one of our lists named by `url`, or None when the URL is not ours."""
    prefix = base_url.rstrip("/") + PUBLIC_PATH
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    try:
        return uuid.UUID(url[len(prefix) :])
    except ValueError:
        return None


async def _claim_next_index(session: AsyncSession, status_list_id: uuid.UUID) -> int | None:
    """One atomic UPDATE ... RETURNING: the row lock (PostgreSQL) or the write lock (SQLite) makes
    concurrent claims queue, so no two transactions ever get the same index."""
    claimed = await session.scalar(
        update(StatusList)
        .where(StatusList.id == status_list_id, StatusList.next_index < StatusList.size)
        .values(next_index=StatusList.next_index + 1)
        .returning(StatusList.next_index)
    )
    return None if claimed is None else claimed - 1


async def allocate_index(
    session: AsyncSession, key: IssuerKey, base_url: str, status_purpose: str = REVOCATION
) -> tuple[StatusList, int, dict[str, Any]]:
    """A fresh index on the key's open list (a new list when none has room), and its entry.

    On PostgreSQL the claim commits in its own short transaction: otherwise the list's row lock is held
    through signing, the inserts and the commit of the whole issuance, and every concurrent issuance
    queues on it (bench/issuance_http.py showed ~16 of 17 connections waiting there). An index whose
    credential then fails is never reused, only never set. SQLite has a single writer, and the issuing
    transaction already holds it, so there the claim stays in place.
    """
    side_engine = session.info.get("side_engine")
    if side_engine is None:
        return await _allocate_in(session, key, base_url, status_purpose)
    async with AsyncSession(side_engine, expire_on_commit=False) as claim:
        allocated = await _allocate_in(claim, key, base_url, status_purpose)
        await claim.commit()
    return allocated


async def _allocate_in(
    session: AsyncSession, key: IssuerKey, base_url: str, status_purpose: str
) -> tuple[StatusList, int, dict[str, Any]]:
    open_lists = await session.scalars(
        select(StatusList)
        .where(
            StatusList.key_id == key.id,
            StatusList.status_purpose == status_purpose,
            StatusList.next_index < StatusList.size,
        )
        .order_by(StatusList.created_at, StatusList.id)
    )
    for status_list in open_lists:
        index = await _claim_next_index(session, status_list.id)
        if index is not None:
            return status_list, index, _entry(base_url, status_list, index)
    status_list = StatusList(
        id=uuid.uuid4(),
        org_id=key.org_id,
        issuer_id=key.issuer_id,
        key_id=key.id,
        status_purpose=status_purpose,
        size=MIN_ENTRIES,
        next_index=1,
        revision=0,
    )
    session.add(status_list)
    await session.flush()
    return status_list, 0, _entry(base_url, status_list, 0)


def _entry(base_url: str, status_list: StatusList, index: int) -> dict[str, Any]:
    return build_status_list_entry(
        list_url=status_list_url(base_url, status_list.id), index=index, status_purpose=status_list.status_purpose
    )


async def mark_changed(session: AsyncSession, status_list_id: uuid.UUID) -> None:
    """A bit changed: the signed copy is stale from now on (atomic, so no concurrent bump is lost)."""
    await session.execute(
        update(StatusList).where(StatusList.id == status_list_id).values(revision=StatusList.revision + 1)
    )


async def signed_status_list(
    session: AsyncSession, status_list_id: uuid.UUID, vault: KeyVault, base_url: str
) -> dict[str, Any]:
    """The signed BitstringStatusListCredential, re-signed only when a bit changed since last time.
    The caller commits (the signed copy is stored so replicas and later reads reuse it)."""
    status_list = await session.get(StatusList, status_list_id, populate_existing=True)
    if status_list is None:
        raise NotFound(f"No status list {status_list_id}.")
    if status_list.signed_credential is not None and status_list.signed_revision == status_list.revision:
        return status_list.signed_credential
    revision = status_list.revision
    revoked = await session.scalars(
        select(Credential.status_index).where(
            Credential.status_list_id == status_list.id, Credential.revoked_at.is_not(None)
        )
    )
    bitstring = Bitstring(status_list.size)
    for index in revoked:
        bitstring.set(index)
    key = await session.get(IssuerKey, status_list.key_id)
    assert key is not None and key.did is not None
    signing = unlock(key, vault)
    unsigned = build_status_list_credential(
        list_url=status_list_url(base_url, status_list.id),
        issuer=signing.did,
        status_purpose=status_list.status_purpose,
        encoded_list=bitstring.encode(),
        valid_from=datetime.now(UTC),
    )
    signed = data_integrity.sign(unsigned, signing.private_key, signing.verification_method)  # type: ignore[arg-type]
    status_list.signed_credential = signed
    status_list.signed_revision = revision
    return signed
