"""Bitstring status lists in the database: index allocation without reuse, and the signed list.

Each list belongs to one signing key and is signed by it, so the list's issuer is the issuer of
every credential it covers (verifiers check that they match; with did:key the DID is the key).
"""

import asyncio
import time
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.badge_issuer.db.tables import Credential, Issuer, IssuerKey, StatusList
from services.badge_issuer.domain.issuers import SigningKey, current_signing_key, unlock
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.proofs import data_integrity
from services.badge_issuer.status_list import (
    MIN_ENTRIES,
    REVOCATION,
    Bitstring,
    build_status_list_credential,
    build_status_list_entry,
)
from shared.db import scalar_outside_transaction
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


async def _claim_range(session: AsyncSession, status_list_id: uuid.UUID, count: int) -> tuple[int, int] | None:
    """Up to `count` consecutive indexes [start, end) of one list, or None when it is full.

    The mark moves by compare-and-set (UPDATE ... WHERE next_index = the value read), so two replicas
    reserving at once can never both get a range starting at the same mark, whatever the database's
    locking; on PostgreSQL the read also locks the row, so the second simply waits for the first's
    commit and the set never misses. The lock is FOR NO KEY UPDATE, not FOR UPDATE: the issuance that
    asked for this block may already hold a KEY SHARE lock on the row (the foreign key of a credential
    it inserted, e.g. before its capstone), which FOR UPDATE would wait on for ever."""
    for _ in range(_MAX_CLAIM_ATTEMPTS):
        row = (
            await session.execute(
                select(StatusList.next_index, StatusList.size)
                .where(StatusList.id == status_list_id)
                .with_for_update(key_share=True)
            )
        ).first()
        if row is None or row.next_index >= row.size:
            return None
        start, end = row.next_index, min(row.next_index + count, row.size)
        moved = await session.execute(
            update(StatusList)
            .where(StatusList.id == status_list_id, StatusList.next_index == start)
            .values(next_index=end)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            return start, end
    raise RuntimeError(f"status list {status_list_id}: could not reserve indexes, the mark kept moving")


_MAX_CLAIM_ATTEMPTS = 100
DEFAULT_BLOCK_SIZE = 64


@dataclass(slots=True)
class _Block:
    """Indexes [next, end) of one list, reserved in the database by this process and handed out here."""

    status_list: StatusList
    next: int
    end: int


class _BlockAllocator:
    """Hands out status indexes from blocks this process reserved (one side transaction per block).

    Unique across replicas: a block is reserved by moving the list's next_index past it under the
    row's lock, and no one else hands out an index below that mark. Indexes of a block not used when
    the process stops (a crash, a restart, a key rotation) are never used: their bits stay 0 in a
    list that is 131,072 entries long, which costs a verifier nothing and is allowed by the spec.
    """

    def __init__(self) -> None:
        self.blocks: dict[tuple[uuid.UUID, str], _Block] = {}
        self.locks: dict[tuple[uuid.UUID, str], asyncio.Lock] = {}

    async def allocate(
        self, side_engine: AsyncEngine, key: IssuerKey, status_purpose: str, block_size: int
    ) -> tuple[StatusList, int]:
        slot = (key.id, status_purpose)
        taken = self._take(slot)
        if taken is not None:
            return taken
        async with self.locks.setdefault(slot, asyncio.Lock()):
            taken = self._take(slot)  # another request refilled it while this one waited
            if taken is not None:
                return taken
            async with AsyncSession(side_engine, expire_on_commit=False) as claim:
                status_list, start, end = await _reserve_block(claim, key, status_purpose, block_size)
                await claim.commit()
            self.blocks[slot] = _Block(status_list, start + 1, end)
            return status_list, start

    def _take(self, slot: tuple[uuid.UUID, str]) -> tuple[StatusList, int] | None:
        block = self.blocks.get(slot)
        if block is None or block.next >= block.end:
            return None
        index = block.next
        block.next += 1
        return block.status_list, index


# One allocator per database (its side engine): an app, and each test's app, keeps its own blocks.
_allocators: "weakref.WeakKeyDictionary[AsyncEngine, _BlockAllocator]" = weakref.WeakKeyDictionary()


async def allocate_index(
    session: AsyncSession, key: IssuerKey, base_url: str, status_purpose: str = REVOCATION
) -> tuple[StatusList, int, dict[str, Any]]:
    """A fresh index on the key's open list (a new list when none has room), and its entry.

    On PostgreSQL indexes come from a block this process reserved in its own short transaction (see
    _BlockAllocator): otherwise the list's row lock is held through signing, the inserts and the
    commit of the whole issuance, and every concurrent issuance queues on it (bench/issuance_http.py
    showed ~16 of 17 connections waiting there), and even a side transaction per index costs three
    round trips per issuance. An index whose credential then fails is never reused, only never set.
    The block size is session.info["status_index_block_size"] (default 64; 1 reserves one at a time).
    SQLite has a single writer, and the issuing transaction already holds it, so there the claim
    stays in place, one index at a time, and rolls back with the issuance.
    """
    side_engine = session.info.get("side_engine")
    if side_engine is None:
        return await _allocate_in(session, key, base_url, status_purpose)
    block_size = max(1, int(session.info.get("status_index_block_size") or DEFAULT_BLOCK_SIZE))
    allocator = _allocators.get(side_engine)
    if allocator is None:
        allocator = _allocators.setdefault(side_engine, _BlockAllocator())
    status_list, index = await allocator.allocate(side_engine, key, status_purpose, block_size)
    return status_list, index, _entry(base_url, status_list, index)


async def _reserve_block(
    session: AsyncSession, key: IssuerKey, status_purpose: str, block_size: int
) -> tuple[StatusList, int, int]:
    """Indexes [start, end) on the key's oldest list with room, or on a new list."""
    for status_list in await _open_lists(session, key, status_purpose):
        claimed = await _claim_range(session, status_list.id, block_size)
        if claimed is not None:
            return status_list, *claimed
    status_list = _new_list(key, status_purpose, next_index=min(block_size, MIN_ENTRIES))
    session.add(status_list)
    await session.flush()
    return status_list, 0, status_list.next_index


async def _open_lists(session: AsyncSession, key: IssuerKey, status_purpose: str) -> list[StatusList]:
    rows = await session.scalars(
        select(StatusList)
        .where(
            StatusList.key_id == key.id,
            StatusList.status_purpose == status_purpose,
            StatusList.next_index < StatusList.size,
        )
        .order_by(StatusList.created_at, StatusList.id)
    )
    return list(rows)


def _new_list(key: IssuerKey, status_purpose: str, *, next_index: int) -> StatusList:
    return StatusList(
        id=uuid.uuid4(),
        org_id=key.org_id,
        issuer_id=key.issuer_id,
        key_id=key.id,
        status_purpose=status_purpose,
        size=MIN_ENTRIES,
        next_index=next_index,
        revision=0,
    )


async def _allocate_in(
    session: AsyncSession, key: IssuerKey, base_url: str, status_purpose: str
) -> tuple[StatusList, int, dict[str, Any]]:
    for status_list in await _open_lists(session, key, status_purpose):
        index = await _claim_next_index(session, status_list.id)
        if index is not None:
            return status_list, index, _entry(base_url, status_list, index)
    status_list = _new_list(key, status_purpose, next_index=1)
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
    for memo_key in [memo_key for memo_key in _signed_lists if memo_key[0] == status_list_id]:
        del _signed_lists[memo_key]  # this replica re-reads the revision at its next verification


# How long a signed list this process holds is trusted without asking the database whether its
# revision moved: a revocation made through another replica shows in this one's verifications within
# this bound (the replica that revoked forgets its copy at once). Bitstring Status List verifiers may
# cache a list for its `ttl`; this is the same idea, much shorter. session.info's
# "status_revision_ttl_seconds" overrides it (settings field status_revision_ttl_seconds, passed as
# session_info by the app); 0 asks the database at every verification.
DEFAULT_STATUS_REVISION_TTL_SECONDS = 1.0


async def signed_status_list(
    session: AsyncSession, status_list_id: uuid.UUID, vault: KeyVault, base_url: str
) -> dict[str, Any]:
    """The signed BitstringStatusListCredential, re-signed only when a bit changed since last time.
    The caller commits (the signed copy is stored so replicas and later reads reuse it).

    This process remembers the signed copy with the list's revision. Within the revision TTL above it
    is returned as is; after it, while the revision in the database is the same (one indexed read of
    one integer, outside any transaction on PostgreSQL) no bit has changed and the copy is returned
    again, trusted for another TTL. A revocation bumps the revision in its own transaction, so the
    first read after the TTL re-signs."""
    memo_key = (status_list_id, base_url)
    remembered = _signed_lists.get(memo_key)
    if remembered is not None:
        revision, signed, trusted_until = remembered
        if time.monotonic() < trusted_until or await _current_revision(session, status_list_id) == revision:
            if time.monotonic() >= trusted_until:
                _remember_signed(session, memo_key, revision, signed)
            return signed
    status_list = await session.get(StatusList, status_list_id, populate_existing=True)
    if status_list is None:
        raise NotFound(f"No status list {status_list_id}.")
    if status_list.signed_credential is not None and status_list.signed_revision == status_list.revision:
        _remember_signed(session, memo_key, status_list.revision, status_list.signed_credential)
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
    signing = await _list_signing_key(session, status_list, vault)
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
    # Remembered before the caller commits: if that commit fails, the copy is still a correct
    # signature of the bits at `revision`, which is all a later read compares.
    _remember_signed(session, memo_key, revision, signed)
    return signed


async def _list_signing_key(session: AsyncSession, status_list: StatusList, vault: KeyVault) -> SigningKey:
    """The list's own key, unless it was revoked as compromised: such a key never signs again, so the
    issuer's current Ed25519 key signs the list instead (for did:key issuers that is a new DID)."""
    key = await session.get(IssuerKey, status_list.key_id)
    assert key is not None and key.did is not None
    if key.status != "compromised":
        return unlock(key, vault)
    issuer = await session.get(Issuer, key.issuer_id)
    assert issuer is not None
    return await current_signing_key(session, issuer, vault)


_SIGNED_LISTS_REMEMBERED = 256
_signed_lists: "OrderedDict[tuple[uuid.UUID, str], tuple[int, dict[str, Any], float]]" = OrderedDict()


def _remember_signed(
    session: AsyncSession, memo_key: tuple[uuid.UUID, str], revision: int, signed: dict[str, Any]
) -> None:
    ttl = session.info.get("status_revision_ttl_seconds")
    ttl = DEFAULT_STATUS_REVISION_TTL_SECONDS if ttl is None else max(0.0, float(ttl))
    _signed_lists[memo_key] = (revision, signed, time.monotonic() + ttl)
    _signed_lists.move_to_end(memo_key)
    while len(_signed_lists) > _SIGNED_LISTS_REMEMBERED:
        _signed_lists.popitem(last=False)


async def _current_revision(session: AsyncSession, status_list_id: uuid.UUID) -> int | None:
    """The list's revision now, without opening a transaction on the request's session."""
    return await scalar_outside_transaction(session, select(StatusList.revision).where(StatusList.id == status_list_id))
