"""DIDs an employee proved control of: a credential whose subject is one of them is bound to them.

Registering a DID proves nothing (anyone can name anyone's DID), so a DID counts for binding only
after its holder signed a challenge this service issued: a Verifiable Presentation as a JWT (VC-JWT,
EdDSA, signed with the DID's key; `iss` = the DID, `nonce` = the challenge, `aud` = this service)
made by the employee's wallet. Challenges are single use and expire after CHALLENGE_TTL.
Supported holder DIDs: did:key (Ed25519), resolved offline.
"""

import secrets
import uuid
from datetime import timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import DidChallenge, EmployeeDid
from services.gap_engine.domain import received_credentials
from services.gap_engine.domain.employees import get_employee
from shared.db import utcnow
from shared.did_key import DidKeyError, ed25519_key_of
from shared.errors import Unprocessable
from shared.schemas.gaps import DidChallengeOut, EmployeeDidOut

CHALLENGE_TTL = timedelta(minutes=10)
MAX_DIDS_PER_EMPLOYEE = 20


async def issue_challenge(
    session: AsyncSession, org_id: uuid.UUID, hris_id: str, did: str, audience: str
) -> DidChallengeOut:
    """A fresh nonce for the employee's wallet to sign with `did`."""
    employee = await get_employee(session, org_id, hris_id)
    try:
        ed25519_key_of(did)
    except DidKeyError as error:
        raise Unprocessable(f"The DID cannot be proved here: {error}.", field="did") from error
    challenge = DidChallenge(
        id=uuid.uuid4(),
        org_id=org_id,
        employee_id=employee.id,
        did=did,
        nonce=secrets.token_urlsafe(32),
        expires_at=utcnow() + CHALLENGE_TTL,
    )
    session.add(challenge)
    await session.flush()
    return DidChallengeOut(did=did, challenge=challenge.nonce, audience=audience, expires_at=challenge.expires_at)


async def prove_did(
    session: AsyncSession, org_id: uuid.UUID, hris_id: str, presentation: str, audience: str
) -> EmployeeDidOut:
    """Checks the presentation against an open challenge of this employee and records the DID as
    theirs; credentials naming it as their subject then count without being posted again."""
    employee = await get_employee(session, org_id, hris_id)
    claims = _unverified_claims(presentation)
    did, nonce = claims.get("iss"), claims.get("nonce")
    if not isinstance(did, str) or not isinstance(nonce, str):
        raise Unprocessable("The presentation must carry `iss` (the holder's DID) and `nonce` (the challenge).")
    challenge = await session.scalar(
        select(DidChallenge).where(
            DidChallenge.org_id == org_id,
            DidChallenge.employee_id == employee.id,
            DidChallenge.nonce == nonce,
            DidChallenge.used_at.is_(None),
        )
    )
    if challenge is None or challenge.expires_at <= utcnow() or challenge.did != did:
        raise Unprocessable("The nonce is not an open challenge for this employee and DID; ask for a new one.")
    try:
        key = ed25519_key_of(did)
        header = jwt.get_unverified_header(presentation)
        if isinstance(header.get("kid"), str) and header["kid"].split("#")[0] != did:
            raise Unprocessable("The presentation's kid is not a key of its iss DID.")
        jwt.decode(presentation, key, algorithms=["EdDSA"], audience=audience, options={"require": ["aud", "iss"]})
    except (DidKeyError, jwt.PyJWTError) as error:
        raise Unprocessable(f"The presentation does not verify: {error}.") from error
    challenge.used_at = utcnow()
    existing = await session.scalar(
        select(EmployeeDid).where(
            EmployeeDid.org_id == org_id, EmployeeDid.employee_id == employee.id, EmployeeDid.did == did
        )
    )
    if existing is None:
        count = len((await session.scalars(select(EmployeeDid.id).where(EmployeeDid.employee_id == employee.id))).all())
        if count >= MAX_DIDS_PER_EMPLOYEE:
            raise Unprocessable(f"An employee may prove at most {MAX_DIDS_PER_EMPLOYEE} DIDs.")
        existing = EmployeeDid(id=uuid.uuid4(), org_id=org_id, employee_id=employee.id, did=did, proved_at=utcnow())
        session.add(existing)
    await session.flush()
    await received_credentials.claim_for_employees(session, org_id, [employee.hris_id])
    return EmployeeDidOut(did=existing.did, proved_at=existing.proved_at)


async def list_dids(session: AsyncSession, org_id: uuid.UUID, hris_id: str) -> list[EmployeeDidOut]:
    employee = await get_employee(session, org_id, hris_id)
    rows = await session.scalars(
        select(EmployeeDid)
        .where(EmployeeDid.org_id == org_id, EmployeeDid.employee_id == employee.id)
        .order_by(EmployeeDid.proved_at)
    )
    return [EmployeeDidOut(did=row.did, proved_at=row.proved_at) for row in rows]


def _unverified_claims(presentation: str) -> dict:
    """Read only to find the challenge; nothing is believed until the signature is checked."""
    if not isinstance(presentation, str) or len(presentation) > 65_536:
        raise Unprocessable("The presentation must be a compact JWS of at most 64 KiB.", field="presentation")
    try:
        claims = jwt.decode(presentation, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise Unprocessable(f"The presentation is not a JWT: {error}.", field="presentation") from error
    return claims if isinstance(claims, dict) else {}
