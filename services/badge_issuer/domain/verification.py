"""Verifying a presented credential: signature, issuer binding, schema, validity window, status.

Every check is reported with its outcome and reason, so a person can see why a badge failed. Keys
are found, in order: among this service's own keys (by kid, in its database: never over HTTP to
itself), offline for did:key, then remotely for did:web DID documents and https key URLs (a JWK, a
JWKS, or a controller document). Remote status lists are fetched, their own proof verified (one level
deep: a status list's status is not checked), their validity window checked and their bit read with
the bomb-safe decoder. Every fetch goes through the outbound policy (shared/safe_fetch.py): https,
public addresses, a deadline and a size cap; a refused or failed fetch fails the check with its reason.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import IssuerKey
from services.badge_issuer.domain import status_lists
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.ob2 import is_ob2_presented, verify_ob2_badge
from services.badge_issuer.ob3.schema_validation import validate_achievement_credential
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt
from services.badge_issuer.status_list import StatusListError, check_credential_status
from shared.errors import NotFound
from shared.safe_fetch import JSON_TYPES, FetchError, SafeFetcher
from shared.schemas.issuer import VerificationCheck, VerificationOut

CLOCK_SKEW = timedelta(minutes=5)
P256_PUBLIC_MULTICODEC = b"\x80\x24"  # varint of 0x1200 (p256-pub), compressed point follows
MAX_PROOFS = 4
MAX_METHODS = 100  # verification methods / JWKS keys looked through in one document
# Remote documents one verification may fetch (keys of the credential, its status lists and their
# keys): with the per-fetch deadline this bounds how long one public request can keep us busy.
MAX_FETCHES = 6
JWT_MEDIA_TYPES = frozenset({"application/vc+jwt", "application/jwt", "application/vc+ld+json+jwt"})
# VC 2.0 registers application/vc for a JSON-LD credential; other JSON types come from JSON_TYPES.
STATUS_LIST_MEDIA_TYPES = JSON_TYPES | {"application/vc"} | JWT_MEDIA_TYPES
ASSERTION_METHOD = "assertionMethod"


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


def _without_fragment(reference: str) -> str:
    return reference.split("#", 1)[0]


# --- key resolution ----------------------------------------------------------------------------


class KeyResolutionError(ValueError):
    """The key a proof names could not be found or is not to be trusted; the message says why."""


class ProofFailure(ValueError):
    """A proof did not verify; `code` is the stable code of the proof layer (invalid_signature...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """A public key and the identities it may sign for (the DID or URL whose document lists it)."""

    public_key: keys.PublicKey
    identities: frozenset[str]
    source: str


def _key_from_method(method: Mapping[str, Any]) -> keys.PublicKey:
    """Multikey / Ed25519VerificationKey2020 (Ed25519 or P-256 multibase) or JsonWebKey(2020)."""
    try:
        jwk = method.get("publicKeyJwk")
        if isinstance(jwk, Mapping):
            if "d" in jwk:
                raise KeyResolutionError("the verification method publishes a private key member (d)")
            return keys.public_key_from_jwk(dict(jwk))
        multibase = method.get("publicKeyMultibase")
        if isinstance(multibase, str):
            data = keys.decode_multibase_base58btc(multibase)
            if data.startswith(keys.ED25519_PUBLIC_MULTICODEC):
                return keys.ed25519_public_key_from_multikey(multibase)
            if data.startswith(P256_PUBLIC_MULTICODEC) and len(data) == 35:
                return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[2:])
            raise KeyResolutionError("publicKeyMultibase is neither an Ed25519 nor a P-256 multikey")
    except (keys.KeyFormatError, ValueError) as error:
        if isinstance(error, KeyResolutionError):
            raise
        raise KeyResolutionError(
            f"the key in verification method {method.get('id')!r} is unreadable: {error}"
        ) from error
    raise KeyResolutionError(
        f"verification method type {method.get('type')!r} carries no publicKeyMultibase or publicKeyJwk"
    )


def _method_in_document(document: Any, document_id: str, method_id: str, where: str) -> Mapping[str, Any]:
    """The verification method `method_id` of a DID / controller document, listed for assertions."""
    if not isinstance(document, Mapping):
        raise KeyResolutionError(f"{where} is not a JSON object")
    if document.get("id") != document_id:
        raise KeyResolutionError(f"{where} describes {document.get('id')!r}, not {document_id}")

    def absolute(reference: Any) -> Any:
        return document_id + reference if isinstance(reference, str) and reference.startswith("#") else reference

    methods = document.get("verificationMethod") or []
    methods = methods if isinstance(methods, list) else [methods]
    found = [m for m in methods[:MAX_METHODS] if isinstance(m, Mapping) and absolute(m.get("id")) == method_id]
    relationship = document.get(ASSERTION_METHOD) or []
    relationship = relationship if isinstance(relationship, list) else [relationship]
    listed = False
    for entry in relationship[:MAX_METHODS]:
        if isinstance(entry, Mapping) and absolute(entry.get("id")) == method_id:
            found, listed = found or [entry], True
        elif absolute(entry) == method_id:
            listed = True
    if not found:
        raise KeyResolutionError(f"{where} has no verification method {method_id}")
    if not listed:
        raise KeyResolutionError(f"{method_id} is in {where} but not listed under {ASSERTION_METHOD}")
    return found[0]


class KeyResolver:
    """Finds the key a proof names; this service's own keys first, from its database."""

    def __init__(self, session: AsyncSession, fetcher: SafeFetcher | None, base_url: str) -> None:
        self.session = session
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")
        self._fetches = 0
        try:
            self._own_did_web: str | None = keys.did_web_for(self.base_url)
        except keys.KeyFormatError:
            self._own_did_web = None

    def is_ours(self, reference: str) -> bool:
        """Names this service (its URL or its did:web space): answered from the database or not at all."""
        if reference.startswith(self.base_url + "/"):
            return True
        did, own = _without_fragment(reference), self._own_did_web
        return own is not None and (did == own or did.startswith(own + ":"))

    async def resolve(self, reference: str) -> ResolvedKey:
        if not isinstance(reference, str) or not reference or len(reference) > 2048:
            raise KeyResolutionError("the key reference is missing or too long")
        local = await self._own_key(reference)
        if local is not None:
            return local
        if reference.startswith(keys.DID_KEY_PREFIX):
            try:
                public_key = keys.public_key_from_did_key(reference)
            except keys.KeyFormatError as error:
                raise KeyResolutionError(str(error)) from error
            return ResolvedKey(public_key, frozenset({_without_fragment(reference)}), "did:key, resolved offline")
        if self.is_ours(reference):
            raise KeyResolutionError(f"{reference} names this service, which has no such key")
        if reference.startswith(keys.DID_WEB_PREFIX):
            return await self._did_web(reference)
        if reference.startswith("did:"):
            method = reference.split(":", 2)[1]
            raise KeyResolutionError(f"did:{method} is not supported (did:key, did:web and https keys are)")
        if reference.startswith(("https:", "http:")):
            return await self._key_url(reference)
        raise KeyResolutionError("a key reference must be a did:key, a did:web or an https URL")

    async def _own_key(self, reference: str) -> ResolvedKey | None:
        row = await self.session.scalar(select(IssuerKey).where(IssuerKey.kid == reference))
        if row is None and "#" not in reference:
            rows = list(await self.session.scalars(select(IssuerKey).where(IssuerKey.did == reference).limit(2)))
            row = rows[0] if len(rows) == 1 else None
        if row is None:
            return None
        if row.status == "compromised":
            since = getattr(row, "compromised_since", None)
            when = f" (distrusted since {since.isoformat()})" if since else ""
            raise KeyResolutionError(
                f"key {row.kid} was revoked by its issuer as compromised{when}: nothing it signed is trusted"
            )
        siblings = await self.session.scalars(select(IssuerKey.did).where(IssuerKey.issuer_id == row.issuer_id))
        identities = {did for did in siblings if did}
        if reference.startswith("did:"):
            identities.add(_without_fragment(reference))
        try:
            public_key = keys.public_key_from_jwk(dict(row.public_jwk))
        except keys.KeyFormatError as error:
            raise KeyResolutionError(f"key {row.kid}: {error}") from error
        return ResolvedKey(public_key, frozenset(identities), f"a key of this service ({row.status})")

    def fetcher_for(self, what: str) -> SafeFetcher:
        """The fetcher, for one more fetch within this verification's budget."""
        if self.fetcher is None:
            raise KeyResolutionError(f"{what} would have to be fetched, and this verifier fetches nothing")
        self._fetches += 1
        if self._fetches > MAX_FETCHES:
            raise KeyResolutionError(f"{what} is not fetched: one verification fetches at most {MAX_FETCHES} documents")
        return self.fetcher

    async def _fetch_json(self, url: str, what: str) -> Any:
        try:
            document = await self.fetcher_for(what).fetch(url, accept=JSON_TYPES)
            return document.json()
        except FetchError as error:
            raise KeyResolutionError(
                f"{what} could not be fetched from {url}: {error.reason} ({error.code})"
            ) from error

    async def _did_web(self, method_id: str) -> ResolvedKey:
        did = _without_fragment(method_id)
        try:
            url = keys.did_web_document_url(did)
        except keys.KeyFormatError as error:
            raise KeyResolutionError(str(error)) from error
        document = await self._fetch_json(url, f"the DID document of {did}")
        if "#" not in method_id:
            raise KeyResolutionError(f"{method_id} names no key: a did:web verification method needs its #fragment")
        method = _method_in_document(document, did, method_id, f"the DID document of {did}")
        return ResolvedKey(_key_from_method(method), frozenset({did}), f"did:web document {url}")

    async def _key_url(self, reference: str) -> ResolvedKey:
        """An https kid / verificationMethod: a JWK, a JWKS (kid = the URL or its fragment), or a
        controller document listing the method."""
        url, _, fragment = reference.partition("#")
        document = await self._fetch_json(url, f"the key at {url}")
        if isinstance(document, Mapping) and "kty" in document:
            jwk = document
        elif isinstance(document, Mapping) and isinstance(document.get("keys"), list):
            matches = [
                k
                for k in document["keys"][:MAX_METHODS]
                if isinstance(k, Mapping) and k.get("kid") in (reference, fragment or None)
            ]
            if not matches and not fragment and len(document["keys"]) == 1:
                matches = document["keys"]
            if len(matches) != 1:
                raise KeyResolutionError(f"the JWKS at {url} has no single key with kid {fragment or reference!r}")
            jwk = matches[0]
        elif isinstance(document, Mapping) and "verificationMethod" in document:
            method = _method_in_document(document, url, reference, f"the controller document {url}")
            return ResolvedKey(_key_from_method(method), frozenset({url}), f"controller document {url}")
        else:
            raise KeyResolutionError(f"{url} holds neither a JWK, a JWKS nor a controller document")
        if not isinstance(jwk, Mapping) or "d" in jwk:
            raise KeyResolutionError(f"the key at {url} is not a public JWK")
        try:
            public_key = keys.public_key_from_jwk(dict(jwk))
        except (keys.KeyFormatError, ValueError) as error:
            raise KeyResolutionError(f"the JWK at {url} is unreadable: {error}") from error
        return ResolvedKey(public_key, frozenset({url}), f"JWK at {url}")


# --- the checks --------------------------------------------------------------------------------


async def verify_presented(
    session: AsyncSession,
    presented: Mapping[str, Any],
    *,
    vault: KeyVault,
    base_url: str,
    fetcher: SafeFetcher | None = None,
) -> VerificationOut:
    """`fetcher` None: nothing remote is fetched (every remote key or list is reported unchecked)."""
    if is_ob2_presented(presented):  # Open Badges 2.0 assertion (JSON or JWS): its own verifier
        return await verify_ob2_badge(presented, fetcher=fetcher)
    resolver = KeyResolver(session, fetcher, base_url)
    if isinstance(presented.get("jwt"), str):
        return await _verify_jwt(session, presented["jwt"], resolver, vault=vault)
    if "proof" in presented or "@context" in presented:
        return await _verify_data_integrity(session, presented, resolver, vault=vault)
    check = _failed("format", 'Send a credential (JSON with a Data Integrity proof) or {"jwt": "<compact VC-JWT>"}.')
    return _outcome("unknown", None, [check])


@dataclass(frozen=True, slots=True)
class _Signed:
    """A proof that checked out: the credential it covers and the key that made it."""

    credential: Mapping[str, Any]
    key: ResolvedKey
    signer: str


async def _data_integrity_proof(credential: Mapping[str, Any], resolver: KeyResolver) -> _Signed:
    """Resolves each proof's key first (asynchronously, remote ones included), then verifies."""
    proofs = credential.get("proof")
    proof_list = proofs if isinstance(proofs, list) else [proofs] if proofs is not None else []
    if len(proof_list) > MAX_PROOFS:
        raise ProofFailure("too_many_proofs", f"more than {MAX_PROOFS} proofs: not checked")
    found: dict[str, ResolvedKey | KeyResolutionError] = {}
    for proof in proof_list:
        method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
        if isinstance(method, str) and method not in found:
            try:
                found[method] = await resolver.resolve(method)
            except KeyResolutionError as error:
                found[method] = error

    def resolve(method: str) -> ed25519.Ed25519PublicKey:
        resolved = found.get(method)
        if isinstance(resolved, KeyResolutionError):
            raise resolved
        if resolved is None:
            raise KeyResolutionError("not resolved")
        if not isinstance(resolved.public_key, ed25519.Ed25519PublicKey):
            raise KeyResolutionError(
                f"eddsa-rdfc-2022 needs an Ed25519 key; {method} is {keys.key_type_of(resolved.public_key)}"
            )
        return resolved.public_key

    result = data_integrity.verify(credential, resolve)
    if not result.valid:
        raise ProofFailure(result.code, result.reason or "")
    method = result.verification_method or ""
    resolved = found[method]
    assert isinstance(resolved, ResolvedKey)
    return _Signed(credential, resolved, method)


async def _jwt_proof(token: str, resolver: KeyResolver) -> _Signed:
    try:
        header = vc_jwt.read_header(token)
    except vc_jwt.JwtVerificationError as error:
        raise ProofFailure(error.code, str(error)) from error
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        held = "a key embedded in the header (jwk) is not bound to anyone" if "jwk" in header else "no kid"
        raise ProofFailure(
            "unresolvable_key", f"the JOSE header names no resolvable key ({held}): OB 3.0 needs a kid to find it"
        )
    try:
        key = await resolver.resolve(kid)
    except KeyResolutionError as error:
        raise ProofFailure("unresolvable_key", f"kid {kid}: {error}") from error
    try:
        verified = vc_jwt.verify(token, key.public_key, verify_times=False)
    except vc_jwt.JwtVerificationError as error:
        raise ProofFailure(error.code, str(error)) from error
    return _Signed(verified.credential, key, f"{header.get('alg')} with kid {kid}")


async def _verify_data_integrity(
    session: AsyncSession, credential: Mapping[str, Any], resolver: KeyResolver, *, vault: KeyVault
) -> VerificationOut:
    checks = [_passed("format", "JSON credential with a Data Integrity proof")]
    try:
        signed = await _data_integrity_proof(credential, resolver)
    except (ProofFailure, KeyResolutionError) as error:
        code = getattr(error, "code", "unresolvable_verification_method")
        checks.append(_failed("signature", f"{code}: {error}"))
        return _outcome("data-integrity", credential, checks + _not_checked_after_signature())
    checks.append(_passed("signature", f"eddsa-rdfc-2022 by {signed.signer} ({signed.key.source})"))
    checks.append(_issuer_binding(credential, signed))
    return _outcome("data-integrity", credential, checks + await _content_checks(session, credential, resolver, vault))


async def _verify_jwt(session: AsyncSession, token: str, resolver: KeyResolver, *, vault: KeyVault) -> VerificationOut:
    checks = [_passed("format", "compact VC-JWT")]
    try:
        signed = await _jwt_proof(token, resolver)
    except ProofFailure as error:
        checks.append(_failed("signature", f"{error.code}: {error}"))
        return _outcome("vc-jwt", None, checks + _not_checked_after_signature())
    credential = signed.credential
    checks.append(_passed("signature", f"{signed.signer} ({signed.key.source})"))
    checks.append(_issuer_binding(credential, signed))
    return _outcome("vc-jwt", credential, checks + await _content_checks(session, credential, resolver, vault))


def _issuer_binding(credential: Mapping[str, Any], signed: _Signed) -> VerificationCheck:
    """The issuer must be one the key speaks for: the DID whose document lists it, the URL whose
    JWKS or controller document serves it, or (for our own keys) any identifier of that issuer. A
    urn: issuer (1EdTech's did:key example) names no one who could be asked, so it is skipped."""
    issuer = _issuer_id(credential)
    if issuer in signed.key.identities:
        return _passed("issuer", f"{issuer}: the signing key is one of its keys ({signed.key.source})")
    if isinstance(issuer, str) and issuer.startswith("urn:"):
        return _skipped("issuer", f"{issuer} is not resolvable, so it cannot be bound to the signer {signed.signer}")
    speaks_for = ", ".join(sorted(signed.key.identities)) or "no one"
    return _failed(
        "issuer", f"the proof was made by a key of {speaks_for}, but the credential names {issuer} as issuer"
    )


def _not_checked_after_signature() -> list[VerificationCheck]:
    reason = "not checked: the signature failed, so the content cannot be trusted"
    return [_skipped(name, reason) for name in ("issuer", "schema", "validity_window", "status")]


async def _content_checks(
    session: AsyncSession, credential: Mapping[str, Any], resolver: KeyResolver, vault: KeyVault
) -> list[VerificationCheck]:
    errors = validate_achievement_credential(dict(credential))
    schema = (
        _failed("schema", "does not match the 1EdTech OB 3.0 JSON schema", [str(error) for error in errors[:20]])
        if errors
        else _passed("schema", "1EdTech OB 3.0 AchievementCredential schema")
    )
    return [schema, _validity_window(credential), await _status(session, credential, resolver, vault)]


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


def _entries(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else [value]


async def _status(
    session: AsyncSession, credential: Mapping[str, Any], resolver: KeyResolver, vault: KeyVault
) -> VerificationCheck:
    entries = credential.get("credentialStatus")
    if entries is None:
        return _skipped("status", "the credential has no credentialStatus")
    listed = list(_entries(entries))
    if len(listed) > MAX_PROOFS:
        return _failed("status", f"more than {MAX_PROOFS} credentialStatus entries: not checked")
    checked = []
    for entry in listed:
        list_url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
        if not isinstance(list_url, str):
            return _failed("status", "credentialStatus names no statusListCredential")
        try:
            list_credential = await _status_list_credential(session, list_url, credential, resolver, vault)
            status = check_credential_status(entry, list_credential)
        except StatusListError as error:
            return _failed("status", f"credentialStatus: {error}")
        except KeyResolutionError as error:
            return _failed("status", str(error))
        if status.is_set:
            return _failed("status", f"{status.status_purpose}: the credential has been revoked by its issuer")
        checked.append(list_url)
    return _passed("status", "not revoked (" + ", ".join(checked) + ")")


async def _status_list_credential(
    session: AsyncSession, list_url: str, credential: Mapping[str, Any], resolver: KeyResolver, vault: KeyVault
) -> Mapping[str, Any]:
    """Our own lists from the database; a remote one fetched, its proof and window checked."""
    list_id = status_lists.status_list_id_from_url(resolver.base_url, list_url)
    if list_id is not None:
        try:
            return await status_lists.signed_status_list(session, list_id, vault, resolver.base_url)
        except NotFound as error:
            raise KeyResolutionError(f"status list {list_url} does not exist") from error
    if resolver.is_ours(list_url):
        raise KeyResolutionError(f"status list {list_url} names this service, which has no such list")
    fetcher = resolver.fetcher_for(f"the status list {list_url}")
    try:
        document = await fetcher.fetch(list_url, accept=STATUS_LIST_MEDIA_TYPES)
        jwt_form = document.content_type in JWT_MEDIA_TYPES
        body = document.content.decode("ascii").strip() if jwt_form else document.json()
    except FetchError as error:
        raise KeyResolutionError(
            f"status list {list_url} could not be fetched: {error.reason} ({error.code})"
        ) from error
    except UnicodeDecodeError as error:
        raise KeyResolutionError(f"status list {list_url} is not a compact JWT") from error
    try:
        signed = await (_jwt_proof(body, resolver) if jwt_form else _data_integrity_proof(_object(body), resolver))
    except (ProofFailure, KeyResolutionError) as error:
        code = f"{error.code}: " if isinstance(error, ProofFailure) else ""
        raise KeyResolutionError(f"status list {list_url}: its proof does not verify: {code}{error}") from error
    list_credential = signed.credential
    issuer = _issuer_id(credential)
    list_issuer = _issuer_id(list_credential)
    if list_issuer != issuer or issuer not in signed.key.identities:
        raise KeyResolutionError(f"status list {list_url} is issued by {list_issuer}, not by the credential's issuer")
    window = _validity_window(list_credential)
    if window.outcome == "failed":
        raise KeyResolutionError(f"status list {list_url} is not valid now: {window.reason}")
    return list_credential


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise KeyResolutionError("the status list is not a JSON object")
    return body


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
