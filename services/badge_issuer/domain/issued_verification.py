"""The organisation's own issued credentials, read and verified in one call, for its services.

The gap engine takes in every credential the issuer announces (webhook) or lists (reconciliation). Asking
for it at its public URL and then at the public POST /v1/verify costs two requests per credential and
competes with the public for the anonymous rate limit; this reads a batch of the caller's organisation's
credentials by id and verifies each as a relying party would see it, through the very same
verify_presented that POST /v1/verify calls: signature, issuer binding, schema, validity window and
status are exactly as strict. Only the caller's organisation's credentials are found.
"""

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Credential
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.domain.verification import verify_presented
from shared.safe_fetch import SafeFetcher
from shared.schemas.issuer import IssuedVerificationItem, IssuedVerificationOut, VerificationOut

Observe = Callable[[VerificationOut, float], None]


def presented_form(credential: Credential) -> dict[str, Any]:
    """What GET /v1/public/credentials/{id} serves a verifier (JSON by default): the compact token of a
    VC-JWT, else the signed document."""
    return {"jwt": credential.compact_jwt} if credential.compact_jwt else credential.document


async def verify_issued(
    session: AsyncSession,
    org_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    *,
    vault: KeyVault,
    base_url: str,
    fetcher: SafeFetcher | None,
    observe: Observe | None = None,
) -> IssuedVerificationOut:
    """One item per id, in order (an id twice is answered twice); not committed (the caller commits, so
    a status list re-signed while checking is kept, as after POST /v1/verify)."""
    rows = await session.scalars(select(Credential).where(Credential.org_id == org_id, Credential.id.in_(set(ids))))
    found = {row.id: row for row in rows}
    items = []
    for credential_id in ids:
        credential = found.get(credential_id)
        if credential is None:
            items.append(IssuedVerificationItem(id=credential_id, found=False))
            continue
        presented = presented_form(credential)
        started = time.perf_counter()
        result = await verify_presented(session, presented, vault=vault, base_url=base_url, fetcher=fetcher)
        if observe is not None:
            observe(result, time.perf_counter() - started)
        items.append(IssuedVerificationItem(id=credential_id, found=True, presented=presented, verification=result))
    return IssuedVerificationOut(items=items)
