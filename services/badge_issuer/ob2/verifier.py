"""Verifying an Open Badges 2.0 assertion, hosted or signed, with every check and its reason.

Order matters for safety: the presented assertion's shape (and its recipient's) is checked first
and nothing is fetched unless it passes. Then, as OB 2.0 §HostedBadge / §SignedBadge say:

- hosted: the assertion is fetched from its own id and must be the one presented (same id, same
  content; `revoked`, or HTTP 410, means revoked), and the fetched copy is the one trusted; its id
  must lie in the issuer's hosted-verification scope (allowedOrigins / startsWith);
- signed: the JWS is checked with a key the issuer Profile lists (the assertion's
  `verification.creator`, else the Profile's `publicKey`), that names the issuer as its `owner`, and
  the Profile's `revocationList` must not list the assertion;
- both: the BadgeClass (fetched when given by URL) and its issuer Profile (fetched from its id) have
  the shapes the spec requires and belong together, and `issuedOn` / `expires` hold now.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.badge_issuer.ob2 import documents
from services.badge_issuer.ob2.documents import is_http_url, node_id
from services.badge_issuer.ob2.fetching import BoundedFetcher, DocumentUnavailable
from services.badge_issuer.ob2.signed import SignatureFailure, public_key_from_pem, unverified_payload, verify_jws
from services.badge_issuer.proofs import keys
from shared.safe_fetch import SafeFetcher
from shared.schemas.issuer import VerificationCheck, VerificationOut

CLOCK_SKEW = timedelta(minutes=5)
MAX_KEYS_TRIED = 2
MAX_REVOKED_ENTRIES = 100_000
# Not compared between the presented and the hosted assertion: revoking a hosted badge adds them.
REVOCATION_FIELDS = frozenset({"revoked", "revocationReason"})

Outcome = Literal["passed", "failed", "skipped"]


def is_ob2_presented(presented: Mapping[str, Any]) -> bool:
    """An OB 2.0 assertion as JSON, or `{"jwt": ...}` whose (unverified) payload is one."""
    token = presented.get("jwt")
    if isinstance(token, str):
        return documents.has_ob2_context(unverified_payload(token))
    return documents.has_ob2_context(presented)


class _Report:
    """The checks so far; once one fails that later ones depend on, the rest are skipped with why."""

    def __init__(self) -> None:
        self.checks: list[VerificationCheck] = []

    def add(
        self, check: str, outcome: Outcome, reason: str, details: list[str] | None = None, code: str | None = None
    ) -> bool:
        """`code`: the same stable codes as the OB 3.0 verifier's where the meaning is the same
        (revoked, expired, status_unavailable, key_unreachable, invalid_signature)."""
        self.checks.append(
            VerificationCheck(check=check, outcome=outcome, reason=reason, code=code, details=details or [])  # type: ignore[arg-type]
        )
        return outcome != "failed"

    def skip_rest(self, names: tuple[str, ...], reason: str) -> None:
        done = {check.check for check in self.checks}
        for name in names:
            if name not in done:
                self.add(name, "skipped", reason)


class _Verification:
    def __init__(self, presented: Mapping[str, Any], fetcher: SafeFetcher | None, now: datetime) -> None:
        self.token = presented["jwt"] if isinstance(presented.get("jwt"), str) else None
        self.assertion: dict[str, Any] = (unverified_payload(self.token) if self.token else dict(presented)) or {}
        self.kind = documents.verification_type(self.assertion)
        self.docs = BoundedFetcher(fetcher)
        self.now = now
        self.report = _Report()
        self.badge_class: Mapping[str, Any] | None = None
        self.profile: Mapping[str, Any] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        proof = "signature" if self.kind == "signed" else "hosted"
        return ("schema", "recipient", "badge_class", "issuer", proof, "validity_window", "status")

    async def run(self) -> VerificationOut:
        if self._format() and self._shape():
            if self.kind == "hosted":
                await self._hosted()
            else:
                await self._signed()
        return self._outcome()

    # --- before anything is fetched ------------------------------------------------------------

    def _format(self) -> bool:
        form = "compact JWS" if self.token else "JSON"
        if self.kind == "signed" and not self.token:
            self.report.add(
                "format", "failed", 'a signed OB 2.0 assertion is verified from its JWS: send {"jwt": "<the JWS>"}'
            )
        elif self.kind == "hosted" and self.token:
            self.report.add("format", "failed", "the JWS carries a hosted assertion: send the assertion's JSON")
        else:
            kind = self.kind or "unknown verification type"
            return self.report.add("format", "passed", f"Open Badges 2.0 assertion ({kind}, {form})")
        self.report.skip_rest(self.names, "not checked: the badge was not presented in a verifiable form")
        return False

    def _shape(self) -> bool:
        problems = documents.assertion_problems(self.assertion)
        shape_ok = self.report.add(
            "schema",
            "failed" if problems else "passed",
            "the assertion does not have the OB 2.0 Assertion shape" if problems else "OB 2.0 Assertion shape",
            problems,
        )
        recipient = documents.recipient_problems(self.assertion.get("recipient"))
        recipient_ok = self.report.add(
            "recipient",
            "failed" if recipient else "passed",
            "the recipient is not a valid IdentityObject" if recipient else self._recipient_reason(),
            recipient,
        )
        if shape_ok and recipient_ok:
            return True
        self.report.skip_rest(self.names, "not checked (nothing fetched): the assertion's own shape is wrong")
        return False

    def _recipient_reason(self) -> str:
        recipient = self.assertion["recipient"]
        form = "hashed " + recipient["identity"].split("$", 1)[0] if recipient["hashed"] else "plain"
        salted = ", salted" if recipient.get("salt") else ""
        return f"{recipient['type']} identity, {form}{salted}"

    # --- hosted ---------------------------------------------------------------------------------

    async def _hosted(self) -> None:
        url = self.assertion["id"]
        try:
            hosted = await self.docs.json_object(url, "the hosted assertion")
        except DocumentUnavailable as error:
            if error.gone:
                self.report.add("hosted", "skipped", f"{url} answers 410 Gone: its issuer has revoked it")
                reason = "revoked by its issuer: the hosted assertion answers 410 Gone"
                self.report.add("status", "failed", reason, code="revoked")
            else:
                self.report.add("hosted", "failed", str(error), code="hosted_unavailable")
            self.report.skip_rest(self.names, "not checked: the hosted assertion could not be confirmed")
            return
        revoked = self._hosted_revocation(hosted)
        differs = sorted(
            key
            for key in (set(hosted) | set(self.assertion)) - REVOCATION_FIELDS
            if hosted.get(key) != self.assertion.get(key)
        )
        if hosted.get("id") != url:
            reason = f"the document at {url} is assertion {hosted.get('id')!r}, not {url}"
            self.report.add("hosted", "failed", reason, code="hosted_mismatch")
        elif differs:
            self.report.add(
                "hosted",
                "failed",
                f"the assertion hosted at {url} is not the one presented: they differ in {', '.join(differs[:10])}",
                code="hosted_mismatch",
            )
        else:
            self.report.add("hosted", "passed", f"the assertion hosted at {url} is the one presented")
        if revoked:  # reported at once: whatever else fails below, a person should see this first
            self.report.add("status", "failed", revoked, code="revoked")
        if differs or hosted.get("id") != url:
            self.report.skip_rest(self.names, "not checked: the hosted assertion is not the one presented")
            return
        self.assertion = dict(hosted)  # OB 2.0: the hosted copy is the one to trust from here on
        if not await self._badge_class_and_issuer():
            return
        reason = documents.allowed_hosted_scope(self.profile or {}, url, node_id(self.badge_class or {}))
        if reason:
            self._replace_issuer_check("failed", f"outside the issuer's hosted-verification scope: {reason}")
        self._validity_window()
        if not revoked:
            self.report.add("status", "passed", f"not revoked (the assertion hosted at {url} does not say revoked)")

    @staticmethod
    def _hosted_revocation(hosted: Mapping[str, Any]) -> str | None:
        """Why the hosted copy says it is revoked (`revoked: true`), or None."""
        if hosted.get("revoked") is not True:
            return None
        reason = hosted.get("revocationReason")
        why = f": {reason}" if isinstance(reason, str) and reason else ""
        return f"revoked by its issuer (the hosted assertion says revoked){why}"

    # --- signed ---------------------------------------------------------------------------------

    async def _signed(self) -> None:
        if not await self._badge_class_and_issuer():
            return
        assert self.token is not None and self.profile is not None
        try:
            verified, how = await self._signature()
        except (SignatureFailure, DocumentUnavailable) as error:
            code = "key_unreachable" if isinstance(error, DocumentUnavailable) else "invalid_signature"
            self.report.add("signature", "failed", str(error), code=code)
            self.report.skip_rest(self.names, "not checked: the signature failed, so the content cannot be trusted")
            return
        self.assertion = verified
        self.report.add("signature", "passed", how)
        self._validity_window()
        await self._revocation_list()

    def _listed_keys(self) -> list[Any]:
        assert self.profile is not None
        listed = self.profile.get("publicKey")
        return (listed if isinstance(listed, list) else [listed] if listed is not None else [])[:20]

    async def _signature(self) -> tuple[dict[str, Any], str]:
        """OB 2.0 §SignedBadge steps 4-6: only keys the issuer Profile links are trusted."""
        assert self.token is not None and self.profile is not None
        listed = self._listed_keys()
        listed_ids = [node_id(entry) for entry in listed]
        creator = documents.verification_object(self.assertion).get("creator")
        issuer_id = self.profile["id"]
        if creator is not None:
            if creator not in listed_ids:
                raise SignatureFailure(f"the signing key {creator!r} is not one the issuer Profile lists in publicKey")
            candidates = [listed[listed_ids.index(creator)]]
        else:
            candidates = listed[:MAX_KEYS_TRIED]
        if not candidates:
            raise SignatureFailure(f"the issuer Profile {issuer_id} lists no publicKey to check the signature with")
        failures = []
        for entry in candidates:
            key_id = node_id(entry)
            try:
                key_document = entry if isinstance(entry, Mapping) else await self._key_document(entry)
                self._check_key(key_document, key_id, issuer_id)
                public_key = public_key_from_pem(key_document.get("publicKeyPem"))
                verified = verify_jws(self.token, public_key)
            except SignatureFailure as error:
                failures.append(f"key {key_id}: {error}")
                continue
            algorithm = keys.jws_algorithm_for(public_key)
            return verified, f"{algorithm} JWS by {key_id}, a CryptographicKey of the issuer {issuer_id}"
        raise SignatureFailure("; ".join(failures))

    async def _key_document(self, key_id: Any) -> Mapping[str, Any]:
        if not is_http_url(key_id):
            raise SignatureFailure(f"the key {key_id!r} is neither embedded nor an http(s) URL to fetch")
        return await self.docs.json_object(key_id, "the issuer's CryptographicKey")

    @staticmethod
    def _check_key(key_document: Mapping[str, Any], key_id: str | None, issuer_id: str) -> None:
        if key_document.get("id") != key_id:
            raise SignatureFailure(f"the key document describes {key_document.get('id')!r}, not {key_id}")
        owner = key_document.get("owner")
        if owner is not None and owner != issuer_id:
            raise SignatureFailure(f"the key's owner is {owner!r}, not the issuer {issuer_id}")

    async def _revocation_list(self) -> None:
        assert self.profile is not None
        url = self.profile.get("revocationList")
        if url is None:
            self.report.add("status", "skipped", "the issuer Profile publishes no revocationList")
            return
        if not is_http_url(url):
            self.report.add("status", "failed", f"the issuer's revocationList {url!r} is not an http(s) URL")
            return
        try:
            listing = await self.docs.json_object(url, "the issuer's revocationList")
        except DocumentUnavailable as error:
            self.report.add("status", "failed", f"revocation could not be checked: {error}", code="status_unavailable")
            return
        problem = self._revocation_list_problem(listing, url)
        if problem:
            self.report.add("status", "failed", f"revocation could not be checked: {problem}")
            return
        entry = self._revocation_entry(listing)
        if entry is None:
            self.report.add("status", "passed", f"not revoked (not in the issuer's revocationList {url})")
            return
        reason = entry.get("revocationReason") if isinstance(entry, Mapping) else None
        why = f": {reason}" if isinstance(reason, str) and reason else ""
        reason = f"revoked by its issuer (listed in its revocationList {url}){why}"
        self.report.add("status", "failed", reason, code="revoked")

    def _revocation_list_problem(self, listing: Mapping[str, Any], url: str) -> str | None:
        assert self.profile is not None
        if "RevocationList" not in documents.types_of(listing):
            return f"{url} is not a RevocationList (type {listing.get('type')!r})"
        if listing.get("id", url) != url:
            return f"the document at {url} is the revocation list {listing.get('id')!r}"
        issuer = node_id(listing.get("issuer")) if "issuer" in listing else self.profile["id"]
        if issuer != self.profile["id"]:
            return f"{url} is the revocation list of {issuer!r}, not of the issuer {self.profile['id']}"
        revoked = listing.get("revokedAssertions", [])
        if not isinstance(revoked, list) or len(revoked) > MAX_REVOKED_ENTRIES:
            return f"revokedAssertions in {url} is not a list of at most {MAX_REVOKED_ENTRIES} entries"
        return None

    def _revocation_entry(self, listing: Mapping[str, Any]) -> Any:
        """The entry naming this assertion, by its id or (legacy) its uid; None when unlisted."""
        ids = {self.assertion.get("id")}
        uid = self.assertion.get("uid")
        for entry in listing.get("revokedAssertions", []):
            if isinstance(entry, str) and entry in ids:
                return entry
            listed = isinstance(entry, Mapping) and entry.get("revoked", True) is not False
            if listed and (entry.get("id") in ids or (uid is not None and entry.get("uid") == uid)):
                return entry
        return None

    # --- shared ---------------------------------------------------------------------------------

    async def _badge_class_and_issuer(self) -> bool:
        """The BadgeClass (fetched when it is a URL or an embedded copy with an http id) and the
        issuer Profile it names (fetched from its id). False when either fails: the rest is skipped."""
        self.badge_class = await self._linked(
            "badge_class", self.assertion["badge"], "the BadgeClass", documents.badge_class_problems
        )
        if self.badge_class is None:
            return False
        self.report.add("badge_class", "passed", f"{self.badge_class['name']!r} ({self.badge_class['id']})")
        issuer_ref = self.badge_class["issuer"]
        if self.kind == "signed" and not is_http_url(node_id(issuer_ref)):
            reason = "a signed badge's issuer Profile must be hosted at an http(s) id to trust its keys"
            self._stop("issuer", reason, "not checked: the issuer could not be confirmed")
            return False
        self.profile = await self._linked("issuer", issuer_ref, "the issuer Profile", documents.profile_problems)
        if self.profile is None:
            return False
        self.report.add(
            "issuer",
            "passed",
            f"{self.profile['name']!r} ({self.profile['id']}), the issuer the BadgeClass names",
        )
        return True

    async def _linked(
        self, check: str, reference: Any, what: str, problems_of: Callable[[Any], list[str]]
    ) -> Mapping[str, Any] | None:
        """A document the badge links to, had and shape-checked; None (the rest skipped) when not."""
        try:
            document = await self._document(reference, what)
        except DocumentUnavailable as error:
            self._stop(check, str(error), f"not checked: {what} could not be had")
            return None
        problems = problems_of(document)
        if problems:
            self._stop(check, f"{what} does not have the OB 2.0 shape", f"not checked: {what} is not valid", problems)
            return None
        return document

    def _stop(self, check: str, reason: str, skipped: str, details: list[str] | None = None) -> None:
        self.report.add(check, "failed", reason, details)
        self.report.skip_rest(self.names, skipped)

    async def _document(self, reference: Any, what: str) -> Mapping[str, Any]:
        """An `@id` property's document: fetched from its http(s) IRI (and then it must carry that
        id), or the embedded copy when its id cannot be fetched."""
        reference_id = node_id(reference)
        if reference_id is None:
            raise DocumentUnavailable(f"{what} is neither an IRI nor an embedded document with an id")
        if not is_http_url(reference_id):
            if isinstance(reference, Mapping):
                return reference
            raise DocumentUnavailable(f"{what} {reference_id!r} is not embedded and has no http(s) URL to fetch")
        document = await self.docs.json_object(reference_id, what)
        if document.get("id") != reference_id:
            raise DocumentUnavailable(f"the document at {reference_id} describes {document.get('id')!r}, not itself")
        return document

    def _replace_issuer_check(self, outcome: Outcome, reason: str) -> None:
        for index, check in enumerate(self.report.checks):
            if check.check == "issuer":
                self.report.checks[index] = check.model_copy(update={"outcome": outcome, "reason": reason})

    def _validity_window(self) -> None:
        issued = documents.parse_datetime(self.assertion.get("issuedOn"))
        expires = documents.parse_datetime(self.assertion.get("expires"))
        if issued is None:
            self.report.add("validity_window", "failed", "issuedOn is missing or not a date-time")
        elif issued - CLOCK_SKEW > self.now:
            self.report.add("validity_window", "failed", f"issued in the future ({self.assertion['issuedOn']})")
        elif "expires" in self.assertion and expires is None:
            self.report.add("validity_window", "failed", "expires is not a date-time")
        elif expires is not None and expires + CLOCK_SKEW < self.now:
            self.report.add("validity_window", "failed", f"expired at {self.assertion['expires']}", code="expired")
        else:
            until = f", expires {self.assertion['expires']}" if expires else ", no expiry"
            self.report.add("validity_window", "passed", f"issued on {self.assertion['issuedOn']}{until}")

    def _issuer_id(self) -> str | None:
        """The issuer Profile's id; before it is had, the issuer the BadgeClass claims."""
        if self.profile is not None:
            return node_id(self.profile.get("id"))
        return node_id(self.badge_class.get("issuer")) if self.badge_class else None

    def _outcome(self) -> VerificationOut:
        checks = self.report.checks
        failures = [f"{check.check}: {check.reason}" for check in checks if check.outcome == "failed"]
        recipient = self.assertion.get("recipient")
        alignment = documents.alignment_of(self.badge_class) if self.badge_class else None
        return VerificationOut(
            verified=not failures,
            format="ob2-signed" if self.kind == "signed" or self.token else "ob2-hosted",
            credential_id=node_id(self.assertion.get("id")),
            issuer=self._issuer_id(),
            checks=checks,
            failures=failures,
            extracted=self.assertion or None,
            badge_class=node_id(self.badge_class.get("id")) if self.badge_class else None,
            alignment=alignment,
            recipient=dict(recipient) if isinstance(recipient, Mapping) else None,
        )


async def verify_ob2_badge(
    presented: Mapping[str, Any], *, fetcher: SafeFetcher | None, now: datetime | None = None
) -> VerificationOut:
    """Verify an OB 2.0 assertion presented as JSON (hosted) or `{"jwt": <JWS>}` (signed)."""
    return await _Verification(presented, fetcher, now or datetime.now(UTC)).run()
