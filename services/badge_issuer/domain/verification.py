"""Verifying a presented credential: format, signature, issuer binding, schema, validity window, status.

Every check runs and is reported, each with its outcome, a reason a person can act on and a stable
`code`, even when an earlier one failed: an expired credential whose key cannot be found is reported
as both. When the signature fails, the other checks still read the (then unauthenticated) content and
say so. Nothing a credential names is fetched before its schema check passed; offline keys (did:key,
did:jwk, a JOSE `jwk` header, this service's own keys) are always checked.

Keys are found, in order: among this service's own keys (by kid, in its database: never over HTTP to
itself), offline for did:key and did:jwk, then remotely for did:web DID documents and https key URLs
(a JWK, a JWKS, or a controller document). Remote status lists are fetched, their own proof verified
(one level deep: a status list's status is not checked), their validity window checked and their bit
read with the bomb-safe decoder. Every fetch goes through the outbound policy (shared/safe_fetch.py):
https, public addresses, a deadline and a size cap; a refused or failed fetch fails the check with its
reason.

Issuer binding. A key proved to be the issuer's (its DID document or JWKS lists it, or it is one of
this service's keys for that issuer) passes the `issuer` check. A key that is only self-asserted (a
bare `jwk` header, a did:jwk that is not the issuer, an https method whose fragment is the key itself
and whose document could not be read) verifies the signature, but the issuer check is a `warning`
with code `issuer_unbound` and `issuer_bound` is false: `verified` stays true when nothing failed,
and the relying party decides (the gap engine counts only bound credentials). A key proved to be
someone else's (a did:key or did:web other than the issuer) fails it: `issuer_mismatch`.

A CLR 2.0 ClrCredential is checked against its own schema and each credential it holds (at most
MAX_NESTED_CREDENTIALS) is verified and reported in `credentials`; one that fails fails the CLR's
`credentials` check. Other document families (e.g. Open Badges 2.0 assertions) get one early dispatch
in :func:`verify_presented`, before the VC path.
"""

from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.key_revision import own_key_cache
from services.badge_issuer.db.tables import IssuerKey
from services.badge_issuer.domain import status_lists
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.ob2 import is_ob2_presented, verify_ob2_badge
from services.badge_issuer.ob3.schema_validation import (
    SchemaError,
    validate_achievement_credential,
    validate_achievement_credential_jsonld,
    validate_clr_credential,
    validate_endorsement_credential,
    validate_endorsement_credential_jsonld,
)
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt
from services.badge_issuer.status_list import (
    LIST_CREDENTIAL_TYPE,
    LIST_SUBJECT_TYPE,
    StatusListError,
    check_credential_status,
)
from shared import revocation_list
from shared.errors import NotFound
from shared.safe_fetch import JSON_TYPES, FetchError, SafeFetcher
from shared.schemas.issuer import VerificationCheck, VerificationOut
from shared.timestamps import parse_timestamp

CLOCK_SKEW = timedelta(minutes=5)
MAX_PROOFS = 4
MAX_STATUS_ENTRIES = 4
MAX_NESTED_CREDENTIALS = 50
MAX_METHODS = 100  # verification methods / JWKS keys looked through in one document
# Remote documents one verification may fetch (keys of the credential, its status lists and their
# keys): with the per-fetch deadline this bounds how long one public request can keep us busy.
MAX_FETCHES = 6
JWT_MEDIA_TYPES = frozenset({"application/vc+jwt", "application/jwt", "application/vc+ld+json+jwt"})
# VC 2.0 registers application/vc for a JSON-LD credential; other JSON types come from JSON_TYPES.
STATUS_LIST_MEDIA_TYPES = JSON_TYPES | {"application/vc"} | JWT_MEDIA_TYPES
ASSERTION_METHOD = "assertionMethod"


def _check(
    check: str, outcome: str, reason: str | None = None, code: str | None = None, details: list[str] | None = None
) -> VerificationCheck:
    return VerificationCheck(check=check, outcome=outcome, reason=reason, code=code, details=details or [])  # type: ignore[arg-type]


def _passed(check: str, reason: str | None = None, code: str | None = None) -> VerificationCheck:
    return _check(check, "passed", reason, code)


def _failed(check: str, reason: str, code: str, details: list[str] | None = None) -> VerificationCheck:
    return _check(check, "failed", reason, code, details)


def _skipped(check: str, reason: str, code: str | None = None) -> VerificationCheck:
    return _check(check, "skipped", reason, code)


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
    self_asserted: bool = False
    """The key vouches only for itself (a `jwk` header, a did:jwk, a key named by its own fragment)."""


class KeyUnreachableError(KeyResolutionError):
    """The document that would vouch for the key was not read (not fetched, or the fetch failed)."""


class KeyCompromisedError(KeyResolutionError):
    """The key is one of this service's, revoked by its issuer as compromised."""


def key_failure_code(error: KeyResolutionError, default: str) -> str:
    """The signature check's code when its key was not established: `key_unreachable` (try again
    later: nothing was judged), `key_compromised` (nothing it signed counts), else `default`."""
    if isinstance(error, KeyUnreachableError):
        return "key_unreachable"
    if isinstance(error, KeyCompromisedError):
        return "key_compromised"
    return default


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
            return keys.public_key_from_multikey(multibase)
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


_OWN_KEY_COLUMNS = (
    IssuerKey.kid,
    IssuerKey.did,
    IssuerKey.status,
    IssuerKey.compromised_since,
    IssuerKey.public_jwk,
    IssuerKey.issuer_id,
)


@dataclass(frozen=True, slots=True)
class _OwnKeyOutcome:
    """What looking a reference up among our keys gave: the key, None (not ours), or a refusal."""

    key: ResolvedKey | None
    refusal: type[KeyResolutionError] | None = None
    reason: str = ""

    @classmethod
    async def of(cls, lookup: Awaitable[ResolvedKey | None]) -> "_OwnKeyOutcome":
        try:
            return cls(await lookup)
        except KeyResolutionError as error:
            return cls(None, type(error), str(error))

    def replay(self) -> ResolvedKey | None:
        if self.refusal is not None:
            raise self.refusal(self.reason)
        return self.key


class KeyResolver:
    """Finds the key a proof names; this service's own keys first, from its database."""

    def __init__(
        self, session: AsyncSession, fetcher: SafeFetcher | None, base_url: str, fetches: list[int] | None = None
    ) -> None:
        self.session = session
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")
        self._fetches = fetches if fetches is not None else [0]  # shared by a CLR and what it holds
        self.remote_refused: str | None = None
        try:
            self._own_did_web: str | None = keys.did_web_for(self.base_url)
        except keys.KeyFormatError:
            self._own_did_web = None

    def for_credential(self, remote_refused: str | None) -> "KeyResolver":
        """A resolver for one credential, sharing the fetch budget; `remote_refused` says why this
        credential may not make us fetch anything (None: it may)."""
        resolver = KeyResolver(self.session, self.fetcher, self.base_url, self._fetches)
        resolver._own_did_web, resolver.remote_refused = self._own_did_web, remote_refused
        return resolver

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
                public_key = keys.verification_key_from_did_key(reference)
            except keys.KeyFormatError as error:
                raise KeyResolutionError(str(error)) from error
            return ResolvedKey(public_key, frozenset({_without_fragment(reference)}), "did:key, resolved offline")
        if reference.startswith(keys.DID_JWK_PREFIX):
            try:
                public_key = keys.public_key_from_did_jwk(reference)
            except keys.KeyFormatError as error:
                raise KeyResolutionError(str(error)) from error
            did = _without_fragment(reference)
            return ResolvedKey(public_key, frozenset({did}), "did:jwk, resolved offline", self_asserted=True)
        if self.is_ours(reference):
            raise KeyResolutionError(f"{reference} names this service, which has no such key")
        if reference.startswith(keys.DID_WEB_PREFIX):
            return await self._did_web(reference)
        if reference.startswith("did:"):
            method = reference.split(":", 2)[1]
            raise KeyResolutionError(f"did:{method} is not supported (did:key, did:jwk, did:web and https keys are)")
        if reference.startswith(("https:", "http:")):
            try:
                return await self._key_url(reference)
            except KeyUnreachableError as error:
                self_named = _key_named_by_fragment(reference, str(error))
                if self_named is None:
                    raise
                return self_named
        raise KeyResolutionError("a key reference must be a did:key, a did:web or an https URL")

    async def _own_key(self, reference: str) -> ResolvedKey | None:
        """One of this service's keys (None: not ours), from the replica's cache while the issuer key
        revision it was looked up under still holds."""
        cache = own_key_cache(self.session)
        if cache is None:
            return await self._own_key_from_database(reference)
        revision = await cache.revision(self.session)
        outcome = cache.get(reference, revision)
        if outcome is None:
            outcome = await _OwnKeyOutcome.of(self._own_key_from_database(reference))
            cache.put(reference, revision, outcome)
        return outcome.replay()

    async def _own_key_from_database(self, reference: str) -> ResolvedKey | None:
        """One of this service's keys, by kid (one statement: the key with its issuer's other keys,
        whose DIDs it also speaks for) or by a DID only one of our keys has."""
        issuer_of_kid = select(IssuerKey.issuer_id).where(IssuerKey.kid == reference).scalar_subquery()
        siblings = list(
            await self.session.execute(select(*_OWN_KEY_COLUMNS).where(IssuerKey.issuer_id == issuer_of_kid))
        )
        row = next((sibling for sibling in siblings if sibling.kid == reference), None)
        if row is None and "#" not in reference:
            rows = list(await self.session.scalars(select(IssuerKey).where(IssuerKey.did == reference).limit(2)))
            row = rows[0] if len(rows) == 1 else None
            if row is not None:
                siblings = list(
                    await self.session.execute(select(IssuerKey.did).where(IssuerKey.issuer_id == row.issuer_id))
                )
        if row is None:
            return None
        if row.status == "compromised":
            since = getattr(row, "compromised_since", None)
            when = f" (distrusted since {since.isoformat()})" if since else ""
            raise KeyCompromisedError(
                f"key {row.kid} was revoked by its issuer as compromised{when}: nothing it signed is trusted"
            )
        identities = {sibling.did for sibling in siblings if sibling.did}
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
            raise KeyUnreachableError(f"{what} would have to be fetched, and this verifier fetches nothing")
        if self.remote_refused:
            raise KeyUnreachableError(f"{what} is not fetched: {self.remote_refused}")
        self._fetches[0] += 1
        if self._fetches[0] > MAX_FETCHES:
            raise KeyUnreachableError(
                f"{what} is not fetched: one verification fetches at most {MAX_FETCHES} documents"
            )
        return self.fetcher

    async def _fetch_json(self, url: str, what: str) -> Any:
        try:
            document = await self.fetcher_for(what).fetch(url, accept=JSON_TYPES)
            return document.json()
        except FetchError as error:
            raise KeyUnreachableError(
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


def _key_named_by_fragment(reference: str, unreachable: str) -> ResolvedKey | None:
    """`https://issuer.example/1#z6Mk…`: the fragment is a Multikey, so the key is readable without its
    document, but then nobody vouches for it (1EdTech's own examples are signed so)."""
    fragment = reference.partition("#")[2]
    if not fragment.startswith(keys.MULTIBASE_BASE58BTC):
        return None
    try:
        public_key = keys.public_key_from_multikey(fragment)
    except keys.KeyFormatError:
        return None
    source = f"the key written in the fragment of {reference} (self-asserted: {unreachable})"
    return ResolvedKey(public_key, frozenset(), source, self_asserted=True)


# --- the checks --------------------------------------------------------------------------------

UNAUTHENTICATED = " (read from content whose signature did not verify)"
SCHEMA_GATE = "the credential does not match its 1EdTech schema, so nothing it names is fetched"


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
    return await _verify_credential(session, presented, resolver, vault, nested=False)


@dataclass(frozen=True, slots=True)
class _Presented:
    """What was shown, read but not yet trusted: its format, the credential it carries (None when
    unreadable) and the format check."""

    format: str
    credential: Mapping[str, Any] | None
    format_check: VerificationCheck
    jwt: str | None = None


def _read_presented(presented: Mapping[str, Any]) -> _Presented:
    token = presented.get("jwt")
    if isinstance(token, str):
        try:
            credential = vc_jwt.read_unverified_credential(token)
        except vc_jwt.JwtVerificationError as error:
            return _Presented("vc-jwt", None, _failed("format", f"not a readable VC-JWT: {error}", error.code), token)
        return _Presented("vc-jwt", credential, _passed("format", "compact VC-JWT"), token)
    if "proof" in presented or "@context" in presented:
        return _Presented("data-integrity", presented, _passed("format", "JSON credential with an embedded proof"))
    reason = 'Send a credential (JSON with a Data Integrity proof) or {"jwt": "<compact VC-JWT>"}.'
    return _Presented("unknown", None, _failed("format", reason, "unrecognised_format"))


@dataclass(frozen=True, slots=True)
class _Signed:
    """A proof that checked out: the credential it covers, the key that made it, what to warn about."""

    credential: Mapping[str, Any]
    key: ResolvedKey
    signer: str
    warnings: tuple[str, ...] = ()


async def _verify_credential(
    session: AsyncSession, presented: Mapping[str, Any], resolver: KeyResolver, vault: KeyVault, *, nested: bool
) -> VerificationOut:
    read = _read_presented(presented)
    if read.credential is None:
        reason = "not checked: no credential could be read"
        rest = [_skipped(name, reason, "unreadable") for name in ("issuer", "schema", "validity_window", "status")]
        signature = (
            _failed("signature", f"{read.format_check.code}: {read.format_check.reason}", read.format_check.code or "")
            if read.jwt is not None
            else _skipped("signature", reason, "unreadable")
        )
        return _outcome(read.format, None, [read.format_check, signature, *rest])
    credential = read.credential
    schema = _schema(credential, nested=nested)
    resolver = resolver.for_credential(None if schema.outcome in ("passed", "warning") else SCHEMA_GATE)
    signature, signed = await _signature(read, resolver)
    suffix = "" if signed else UNAUTHENTICATED
    issuer = _issuer_binding(credential, signed)
    checks = [
        read.format_check,
        signature,
        issuer,
        _annotated(schema, suffix),
        _annotated(_validity_window(credential), suffix),
        _annotated(await _status(session, credential, resolver, vault), suffix),
    ]
    nested_results: list[VerificationOut] = []
    if _is_clr(credential) and not nested:
        nested_check, nested_results = await _nested_credentials(session, credential, resolver, vault)
        checks.append(nested_check)
    result = _outcome(read.format, credential, checks)
    result.credentials = nested_results
    if signed is not None:
        result.key_source = signed.key.source
        result.issuer_bound = issuer.outcome == "passed"
    return result


def _annotated(check: VerificationCheck, suffix: str) -> VerificationCheck:
    if not suffix or check.outcome == "skipped":
        return check
    return check.model_copy(update={"reason": (check.reason or "") + suffix})


async def _signature(read: _Presented, resolver: KeyResolver) -> tuple[VerificationCheck, _Signed | None]:
    try:
        if read.jwt is not None:
            signed = await _jwt_proof(read.jwt, resolver)
        else:
            assert read.credential is not None
            signed = await _data_integrity_proof(read.credential, resolver)
    except ProofFailure as error:
        return _failed("signature", f"{error.code}: {error}", error.code), None
    except KeyResolutionError as error:
        code = key_failure_code(error, "unresolvable_verification_method")
        return _failed("signature", f"{code}: {error}", code), None
    reason = f"{signed.signer} ({signed.key.source})"
    if signed.warnings:
        return _check("signature", "warning", f"{reason}; " + "; ".join(signed.warnings), "legacy_cryptosuite"), signed
    return _passed("signature", reason, "valid_signature"), signed


async def _data_integrity_proof(credential: Mapping[str, Any], resolver: KeyResolver) -> _Signed:
    """Resolves each proof's key first (asynchronously, remote ones included), then verifies."""
    proofs = credential.get("proof")
    proof_list = proofs if isinstance(proofs, list) else [proofs] if proofs is not None else []
    if len(proof_list) > MAX_PROOFS:
        raise ProofFailure("too_many_proofs", f"{len(proof_list)} proofs, more than {MAX_PROOFS}: not checked")
    found: dict[str, ResolvedKey | KeyResolutionError] = {}
    for proof in proof_list:
        method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
        if isinstance(method, str) and method not in found:
            try:
                found[method] = await resolver.resolve(method)
            except KeyResolutionError as error:
                found[method] = error

    def resolve(method: str) -> keys.PublicKey:
        resolved = found.get(method)
        if isinstance(resolved, KeyResolutionError):
            raise resolved
        if resolved is None:
            raise KeyResolutionError("not resolved")
        return resolved.public_key

    result = data_integrity.verify(credential, resolve)
    if not result.valid:
        unresolved = found.get(result.verification_method or "")
        code = result.code
        if code == "unresolvable_verification_method" and isinstance(unresolved, KeyResolutionError):
            code = key_failure_code(unresolved, code)
        raise ProofFailure(code, result.reason or "")
    method = result.verification_method or ""
    resolved = found[method]
    assert isinstance(resolved, ResolvedKey)
    return _Signed(credential, resolved, f"{result.suite} by {method}", result.warnings)


async def _jwt_proof(token: str, resolver: KeyResolver) -> _Signed:
    """The key named by `kid`; else, or when the kid's document cannot be read, the header's own
    `jwk` (self-asserted: it proves the token was not altered, not who made it)."""
    try:
        header = vc_jwt.read_header(token)
    except vc_jwt.JwtVerificationError as error:
        raise ProofFailure(error.code, str(error)) from error
    kid, embedded = header.get("kid"), header.get("jwk")
    key: ResolvedKey | None = None
    kid_problem = "no kid"
    if isinstance(kid, str) and kid:
        try:
            key = await resolver.resolve(kid)
        except KeyUnreachableError as error:
            if not isinstance(embedded, Mapping):
                raise ProofFailure(key_failure_code(error, "unresolvable_key"), f"kid {kid}: {error}") from error
            kid_problem = f"kid {kid}: {error}"
        except KeyResolutionError as error:
            raise ProofFailure(key_failure_code(error, "unresolvable_key"), f"kid {kid}: {error}") from error
    if key is None:
        if not isinstance(embedded, Mapping):
            raise ProofFailure("unresolvable_key", "the JOSE header names no key: no kid to look it up by, and no jwk")
        key = _header_jwk(embedded, kid_problem)
    try:
        verified = vc_jwt.verify(token, key.public_key, verify_times=False)
    except vc_jwt.JwtVerificationError as error:
        raise ProofFailure(error.code, str(error)) from error
    named = f"kid {kid}" if isinstance(kid, str) and kid and not key.source.startswith("the JOSE") else "jwk header"
    return _Signed(verified.credential, key, f"{header.get('alg')} with {named}")


def _header_jwk(jwk: Mapping[str, Any], kid_problem: str) -> ResolvedKey:
    if "d" in jwk:
        raise ProofFailure("unresolvable_key", "the JOSE header's jwk holds a private key member (d): refused")
    try:
        public_key = keys.public_key_from_jwk(dict(jwk))
    except (keys.KeyFormatError, ValueError) as error:
        raise ProofFailure("unresolvable_key", f"the JOSE header's jwk is unreadable: {error}") from error
    source = "the JOSE header's own jwk (self-asserted" + ("" if kid_problem == "no kid" else f"; {kid_problem}") + ")"
    return ResolvedKey(public_key, frozenset(), source, self_asserted=True)


def _issuer_binding(credential: Mapping[str, Any], signed: _Signed | None) -> VerificationCheck:
    """The issuer must be one the key speaks for: the DID whose document lists it, the URL whose
    JWKS or controller document serves it, or (for our own keys) any identifier of that issuer. A
    urn: issuer (1EdTech's did:key example) names no one who could be asked, so it is skipped."""
    issuer = _issuer_id(credential)
    if signed is None:
        return _skipped("issuer", "not checked: no signature verified, so no key to bind the issuer to", "no_signature")
    if issuer is None:
        return _failed("issuer", "the credential names no issuer (issuer or issuer.id)", "missing_issuer")
    if issuer in signed.key.identities:
        return _passed("issuer", f"{issuer}: the signing key is one of its keys ({signed.key.source})", "issuer_bound")
    if issuer.startswith("urn:"):
        reason = f"{issuer} is not resolvable, so it cannot be bound to the signer {signed.signer}"
        return _skipped("issuer", reason, "issuer_not_resolvable")
    if signed.key.self_asserted:
        reason = (
            f"the signature is valid, but the key is self-asserted ({signed.key.source}): nothing proves "
            f"it belongs to {issuer}"
        )
        return _check("issuer", "warning", reason, "issuer_unbound")
    speaks_for = ", ".join(sorted(signed.key.identities)) or "no one"
    reason = f"the proof was made by a key of {speaks_for}, but the credential names {issuer} as issuer"
    return _failed("issuer", reason, "issuer_mismatch")


def _types(credential: Mapping[str, Any]) -> list[str]:
    value = credential.get("type")
    return [item for item in (value if isinstance(value, list) else [value]) if isinstance(item, str)]


def _is_clr(credential: Mapping[str, Any]) -> bool:
    return "ClrCredential" in _types(credential)


OB_CREDENTIAL = "1EdTech OB 3.0 AchievementCredential"
OB_ENDORSEMENT = "1EdTech OB 3.0 EndorsementCredential"
# type -> (schema title, strict validator, JSON-LD adaptation validator or None)
SCHEMAS: dict[str, tuple[str, Any, Any]] = {
    "ClrCredential": ("1EdTech CLR 2.0 ClrCredential", validate_clr_credential, None),
    "EndorsementCredential": (OB_ENDORSEMENT, validate_endorsement_credential, validate_endorsement_credential_jsonld),
    "OpenBadgeCredential": (OB_CREDENTIAL, validate_achievement_credential, validate_achievement_credential_jsonld),
    "AchievementCredential": (OB_CREDENTIAL, validate_achievement_credential, validate_achievement_credential_jsonld),
}


def _schema(credential: Mapping[str, Any], *, nested: bool) -> VerificationCheck:
    """Each credential against its own type's schema; a CLR inside a CLR is not read. An OB 3.0
    credential that fails the strict schema but matches 1EdTech's JSON-LD adaptation (single values
    where arrays are expected: how Digital Bazaar's and DCC's issuers write `proof`) is a warning."""
    types = _types(credential)
    if LIST_CREDENTIAL_TYPE in types and not nested:
        return _status_list_shape(credential)
    known = [name for name in SCHEMAS if name in types]
    if not known or (nested and known[0] == "ClrCredential"):
        expected = "AchievementCredential / OpenBadgeCredential" if nested else ", ".join(SCHEMAS)
        reason = f"type {types} is not one this verifier has a schema for (expected {expected})"
        return _failed("schema", reason, "unsupported_credential_type")
    title, validate, validate_jsonld = SCHEMAS[known[0]]
    errors: list[SchemaError] = validate(dict(credential))
    if not errors:
        return _passed("schema", f"{title} schema", "schema_valid")
    first = f"{errors[0].path} {errors[0].message}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
    details = [str(error) for error in errors[:20]]
    if validate_jsonld is not None and not validate_jsonld(dict(credential)):
        reason = (
            f"matches 1EdTech's JSON-LD adaptation of the {title} schema (what purl.imsglobal.org serves), "
            f"not the strict schema: {first}"
        )
        return _check("schema", "warning", reason, "schema_jsonld_adaptation", details)
    return _failed("schema", f"does not match the {title} JSON schema: {first}", "schema_mismatch", details)


def _status_list_shape(credential: Mapping[str, Any]) -> VerificationCheck:
    """A status list credential (what a relying party that caches lists asks us to check: the gap
    engine's sweep): W3C publishes no JSON schema for it, so its subject's shape is what is checked."""
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("type") != LIST_SUBJECT_TYPE:
        reason = f"a {LIST_CREDENTIAL_TYPE} needs a credentialSubject of type {LIST_SUBJECT_TYPE}"
        return _failed("schema", reason, "schema_mismatch")
    if not isinstance(subject.get("encodedList"), str) or not isinstance(subject.get("statusPurpose"), str):
        return _failed("schema", "the status list has no encodedList or statusPurpose", "schema_mismatch")
    return _passed("schema", f"W3C Bitstring Status List v1.0 {LIST_CREDENTIAL_TYPE}", "status_list_shape")


async def _nested_credentials(
    session: AsyncSession, credential: Mapping[str, Any], resolver: KeyResolver, vault: KeyVault
) -> tuple[VerificationCheck, list[VerificationOut]]:
    subject = credential.get("credentialSubject")
    held = subject.get("verifiableCredential") if isinstance(subject, Mapping) else None
    items = held if isinstance(held, list) else [] if held is None else [held]
    if not items:
        return _skipped("credentials", "the CLR holds no credentials (credentialSubject.verifiableCredential)"), []
    if len(items) > MAX_NESTED_CREDENTIALS:
        reason = f"the CLR holds {len(items)} credentials, more than {MAX_NESTED_CREDENTIALS}: none checked"
        return _failed("credentials", reason, "too_many_credentials"), []
    results = []
    for item in items:
        shown = {"jwt": item} if isinstance(item, str) else item if isinstance(item, Mapping) else {}
        results.append(await _verify_credential(session, shown, resolver, vault, nested=True))
    bad = [
        f"#{index} {result.credential_id or ''}: {'; '.join(result.failures)}"
        for index, result in enumerate(results)
        if not result.verified
    ]
    if bad:
        reason = f"{len(bad)} of the {len(results)} credentials in the CLR did not verify"
        return _failed("credentials", reason, "credential_not_verified", bad), results
    verified = _passed("credentials", f"all {len(results)} credentials in the CLR verified", "credentials_verified")
    return verified, results


def _validity_window(credential: Mapping[str, Any], now: datetime | None = None) -> VerificationCheck:
    now = now or datetime.now(UTC)
    from_name = "validFrom" if "validFrom" in credential else "issuanceDate"
    raw_from = credential.get(from_name)
    valid_from = parse_timestamp(raw_from)
    if raw_from is None:
        reason = "validFrom is missing: nothing says since when it is valid"
        return _failed("validity_window", reason, "missing_valid_from")
    if valid_from is None:
        return _failed("validity_window", f"{from_name} {raw_from!r} is not a date-time", "malformed_date")
    if valid_from - CLOCK_SKEW > now:
        return _failed("validity_window", f"not valid before {raw_from} ({from_name})", "not_yet_valid")
    until_name = "validUntil" if "validUntil" in credential else "expirationDate"
    raw_until = credential.get(until_name)
    if raw_until is not None:
        valid_until = parse_timestamp(raw_until)
        if valid_until is None:
            return _failed("validity_window", f"{until_name} {raw_until!r} is not a date-time", "malformed_date")
        if valid_until + CLOCK_SKEW < now:
            return _failed("validity_window", f"expired at {raw_until} ({until_name})", "expired")
        return _passed("validity_window", f"valid from {raw_from} until {raw_until}", "within_window")
    return _passed("validity_window", f"valid from {raw_from}", "within_window")


def _entries(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else [value]


async def _status(
    session: AsyncSession, credential: Mapping[str, Any], resolver: KeyResolver, vault: KeyVault
) -> VerificationCheck:
    entries = credential.get("credentialStatus")
    if entries is None:
        return _skipped("status", "the credential has no credentialStatus", "no_status")
    listed = list(_entries(entries))
    if len(listed) > MAX_STATUS_ENTRIES:
        reason = f"{len(listed)} credentialStatus entries, more than {MAX_STATUS_ENTRIES}: not checked"
        return _failed("status", reason, "too_many_status_entries")
    checked = []
    for entry in listed:
        if isinstance(entry, Mapping) and entry.get("type") == revocation_list.ENTRY_TYPE:
            failed = await _revocation_list_status(entry, credential, resolver)
            if failed is not None:
                return failed
            checked.append(str(entry.get("id")))
            continue
        list_url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
        if not isinstance(list_url, str):
            kind = entry.get("type") if isinstance(entry, Mapping) else None
            reason = (
                f"credentialStatus of type {kind!r} names no statusListCredential: only Bitstring Status List "
                f"and {revocation_list.ENTRY_TYPE} entries can be checked, so whether it was revoked is unknown"
            )
            return _failed("status", reason, "unsupported_status")
        try:
            list_credential = await _status_list_credential(session, list_url, credential, resolver, vault)
            status = check_credential_status(entry, list_credential)
        except StatusListError as error:
            return _failed("status", f"credentialStatus: {error}", "malformed_status")
        except KeyResolutionError as error:
            return _failed("status", str(error), "status_unavailable")
        if status.is_set:
            purpose = status.status_purpose
            state = {"revocation": "revoked", "suspension": "suspended"}.get(purpose, f"marked {purpose}")
            reason = f"{purpose}: the credential has been {state} by its issuer (its bit is set in {list_url})"
            return _failed("status", reason, state if purpose in ("revocation", "suspension") else purpose)
        checked.append(list_url)
    return _passed("status", "not revoked (" + ", ".join(checked) + ")", "not_revoked")


async def _revocation_list_status(
    entry: Mapping[str, Any], credential: Mapping[str, Any], resolver: KeyResolver
) -> VerificationCheck | None:
    """A 1EdTechRevocationList entry: the list its id names, fetched, believed only when it is the
    credential issuer's; the failed check when the credential is revoked or the list unusable."""
    try:
        url = revocation_list.entry_url(entry)
    except revocation_list.RevocationListError as error:
        return _failed("status", f"credentialStatus: {error}", "malformed_status")
    try:
        fetcher = resolver.fetcher_for(f"the revocation list {url}")
        document = await fetcher.fetch(url, accept=JSON_TYPES)
        listed = revocation_list.read_revocation_list(document.json(), url)
    except KeyResolutionError as error:
        return _failed("status", str(error), "status_unavailable")
    except FetchError as error:
        return _failed(
            "status", f"revocation list {url} could not be fetched: {error.reason} ({error.code})", "status_unavailable"
        )
    except revocation_list.RevocationListError as error:
        return _failed("status", f"revocation list {url}: {error}", "malformed_status")
    try:
        revocation_list.check_issuer(listed, _issuer_id(credential))
    except revocation_list.RevocationListError as error:
        return _failed("status", str(error), "status_unavailable")
    credential_id = credential.get("id") if isinstance(credential.get("id"), str) else None
    reason = listed.reason_for(credential_id)
    if reason is None:
        return None
    because = f" ({reason})" if reason else ""
    return _failed(
        "status", f"revocation: the credential has been revoked by its issuer{because}, per {url}", "revoked"
    )


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
    warnings = [f"{check.check}: {check.reason}" for check in checks if check.outcome == "warning"]
    return VerificationOut(
        verified=not failures,
        format=fmt,  # type: ignore[arg-type]
        credential_id=credential.get("id") if credential and isinstance(credential.get("id"), str) else None,
        issuer=_issuer_id(credential) if credential else None,
        checks=checks,
        failures=failures,
        warnings=warnings,
    )
