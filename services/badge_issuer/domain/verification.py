"""Verifying a presented credential: signature, issuer binding, schema, validity window, status.

Every check is reported with its outcome and reason, so a person can see why a badge failed.
Keys are resolved offline (did:key) or from this issuer's own JWKS; nothing is fetched from the
network, so a key, issuer profile or status list elsewhere is reported as not checked (with the URL)
rather than guessed. That is why, of 1EdTech's examples, only the did:key one verifies here.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import IssuerKey
from services.badge_issuer.domain import status_lists
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.ob3.schema_validation import validate_achievement_credential
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt
from services.badge_issuer.status_list import StatusListError, check_credential_status
from shared.errors import NotFound
from shared.schemas.issuer import VerificationCheck, VerificationOut

CLOCK_SKEW = timedelta(minutes=5)


def _passed(check: str, reason: str | None = None) -> VerificationCheck:
    return VerificationCheck(check=check, outcome="passed", reason=reason)  # type: ignore[arg-type]


def _failed(check: str, reason: str, details: list[str] | None = None) -> VerificationCheck:
    return VerificationCheck(check=check, outcome="failed", reason=reason, details=details or [])  # type: ignore[arg-type]


def _skipped(check: str, reason: str) -> VerificationCheck:
    return VerificationCheck(check=check, outcome="skipped", reason=reason)  # type: ignore[arg-type]


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    value = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    return value if isinstance(value, str) else None


def _did_of(verification_method: str) -> str:
    return verification_method.split("#", 1)[0]


def _resolve_method(verification_method: str) -> ed25519.Ed25519PublicKey:
    """did:key offline (with or without its fragment, as 1EdTech's validator reads it); anything
    else would need the network, and the reason says so instead of a bare "not a did:key"."""
    if verification_method.startswith(keys.DID_KEY_PREFIX):
        return keys.public_key_from_did_key(verification_method)
    if verification_method.startswith("did:"):
        method = verification_method.split(":", 2)[1]
        raise ValueError(f"did:{method} is not resolved here: only did:key is, offline; nothing is fetched")
    raise ValueError("a remote verification method is not fetched: only did:key is resolved, offline")


async def verify_presented(
    session: AsyncSession, presented: Mapping[str, Any], *, vault: KeyVault, base_url: str
) -> VerificationOut:
    if isinstance(presented.get("jwt"), str):
        return await _verify_jwt(session, presented["jwt"], vault=vault, base_url=base_url)
    if "proof" in presented or "@context" in presented:
        return await _verify_data_integrity(session, presented, vault=vault, base_url=base_url)
    check = _failed("format", 'Send a credential (JSON with a Data Integrity proof) or {"jwt": "<compact VC-JWT>"}.')
    return _outcome("unknown", None, [check])


async def _verify_data_integrity(
    session: AsyncSession, credential: Mapping[str, Any], *, vault: KeyVault, base_url: str
) -> VerificationOut:
    checks = [_passed("format", "JSON credential with a Data Integrity proof")]
    result = data_integrity.verify(credential, _resolve_method)
    if not result.valid:
        checks.append(_failed("signature", f"{result.code}: {result.reason}"))
        return _outcome("data-integrity", credential, checks + _not_checked_after_signature())
    checks.append(_passed("signature", f"eddsa-rdfc-2022 by {result.verification_method}"))
    checks.append(_issuer_binding(credential, _did_of(result.verification_method or "")))
    return _outcome("data-integrity", credential, checks + await _content_checks(session, credential, vault, base_url))


async def _verify_jwt(session: AsyncSession, token: str, *, vault: KeyVault, base_url: str) -> VerificationOut:
    checks = [_passed("format", "compact VC-JWT")]
    try:
        header = vc_jwt.read_header(token)
        public_key, signer_did = await _jwt_key(session, header)
        verified = vc_jwt.verify(token, public_key, verify_times=False)
    except vc_jwt.JwtVerificationError as error:
        checks.append(_failed("signature", f"{error.code}: {error}"))
        return _outcome("vc-jwt", None, checks + _not_checked_after_signature())
    credential = verified.credential
    checks.append(_passed("signature", f"{header.get('alg')} with kid {header.get('kid')}"))
    if signer_did:
        checks.append(_issuer_binding(credential, signer_did))
    else:
        checks.append(_passed("issuer", "key found in this issuer's JWKS"))
    return _outcome("vc-jwt", credential, checks + await _content_checks(session, credential, vault, base_url))


async def _jwt_key(session: AsyncSession, header: Mapping[str, Any]) -> tuple[keys.PublicKey, str | None]:
    """did:key kids resolve offline; other kids only from this issuer's own keys (no fetching)."""
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise vc_jwt.JwtVerificationError(
            "unresolvable_key",
            "the JOSE header has no kid, so the key could only come from the issuer's remote JWKS, "
            "which this verifier does not fetch",
        )
    if kid.startswith(keys.DID_KEY_PREFIX):
        try:
            return keys.public_key_from_did_key(kid), _did_of(kid)
        except keys.KeyFormatError as error:
            raise vc_jwt.JwtVerificationError("unresolvable_key", f"kid {kid}: {error}") from error
    row = await session.scalar(select(IssuerKey).where(IssuerKey.kid == kid))
    if row is None:
        raise vc_jwt.JwtVerificationError(
            "unresolvable_key",
            f"kid {kid!r} is neither a did:key nor a key of this issuer (remote keys are not fetched)",
        )
    return keys.public_key_from_jwk(row.public_jwk), row.did


def _issuer_binding(credential: Mapping[str, Any], signer_did: str) -> VerificationCheck:
    """A DID issuer must be the signer. A urn: issuer (1EdTech's did:key example) names no one who
    could be asked, so it is skipped with the signer named; an https issuer would need its profile
    fetched to list the key, which this verifier does not do, so it fails rather than trusts."""
    issuer = _issuer_id(credential)
    if issuer == signer_did:
        return _passed("issuer", f"{issuer} (did:key, resolved offline)")
    if isinstance(issuer, str) and issuer.startswith("urn:"):
        return _skipped("issuer", f"{issuer} is not resolvable, so it cannot be bound to the signer {signer_did}")
    if isinstance(issuer, str) and issuer.startswith(("https:", "http:")):
        return _failed(
            "issuer", f"the proof was made by {signer_did}; the issuer profile {issuer} is remote and is not fetched"
        )
    return _failed("issuer", f"the proof was made by {signer_did}, but the credential names {issuer} as issuer")


def _not_checked_after_signature() -> list[VerificationCheck]:
    reason = "not checked: the signature failed, so the content cannot be trusted"
    return [_skipped(name, reason) for name in ("issuer", "schema", "validity_window", "status")]


async def _content_checks(
    session: AsyncSession, credential: Mapping[str, Any], vault: KeyVault, base_url: str
) -> list[VerificationCheck]:
    errors = validate_achievement_credential(dict(credential))
    schema = (
        _failed("schema", "does not match the 1EdTech OB 3.0 JSON schema", [str(error) for error in errors[:20]])
        if errors
        else _passed("schema", "1EdTech OB 3.0 AchievementCredential schema")
    )
    return [schema, _validity_window(credential), await _status(session, credential, vault, base_url)]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _validity_window(credential: Mapping[str, Any], now: datetime | None = None) -> VerificationCheck:
    now = now or datetime.now(UTC)
    valid_from = _parse_time(credential.get("validFrom") or credential.get("issuanceDate"))
    if valid_from is None:
        return _failed("validity_window", "validFrom is missing or not a date-time")
    if valid_from - CLOCK_SKEW > now:
        return _failed("validity_window", f"not valid before {credential.get('validFrom')}")
    raw_until = credential.get("validUntil") or credential.get("expirationDate")
    if raw_until is not None:
        valid_until = _parse_time(raw_until)
        if valid_until is None:
            return _failed("validity_window", "validUntil is not a date-time")
        if valid_until + CLOCK_SKEW < now:
            return _failed("validity_window", f"expired at {raw_until}")
    return _passed("validity_window", f"valid from {credential.get('validFrom') or credential.get('issuanceDate')}")


async def _status(
    session: AsyncSession, credential: Mapping[str, Any], vault: KeyVault, base_url: str
) -> VerificationCheck:
    entries = credential.get("credentialStatus")
    if entries is None:
        return _skipped("status", "the credential has no credentialStatus")
    for entry in entries if isinstance(entries, list) else [entries]:
        list_url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
        list_id = status_lists.status_list_id_from_url(base_url, list_url) if list_url else None
        if list_id is None:
            return _skipped("status", f"status list {list_url!r} is not ours; remote lists are not fetched yet")
        try:
            list_credential = await status_lists.signed_status_list(session, list_id, vault, base_url)
            status = check_credential_status(entry, list_credential)
        except StatusListError as error:
            return _failed("status", f"credentialStatus: {error}")
        except NotFound:
            return _failed("status", f"status list {list_url} does not exist")
        if status.is_set:
            return _failed("status", f"{status.status_purpose}: the credential has been revoked by its issuer")
    return _passed("status", "not revoked")


def _outcome(fmt: str, credential: Mapping[str, Any] | None, checks: list[VerificationCheck]) -> VerificationOut:
    failures = [f"{check.check}: {check.reason}" for check in checks if check.outcome == "failed"]
    return VerificationOut(
        verified=not failures,
        format=fmt,  # type: ignore[arg-type]
        credential_id=credential.get("id") if credential and isinstance(credential.get("id"), str) else None,
        issuer=_issuer_id(credential) if credential else None,
        checks=checks,
        failures=failures,
    )
