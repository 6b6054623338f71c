"""Verifying credentials from issuers elsewhere: did:web documents, https keys and JWKS, remote status
lists, all fetched through the outbound policy from `remote_web` (tests have no network); and this
service's own keys, found in its database and never over HTTP, a compromised one refused."""

import base64
import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from services.badge_issuer.db.tables import IssuerKey
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt
from services.badge_issuer.status_list import (
    Bitstring,
    build_status_list_credential,
    build_status_list_entry,
)
from tests.badge_issuer.conftest import checks_of, idempotent, verify_json

HOST = "badges.remote.example"
DID = f"did:web:{HOST}"
PATH_DID = f"did:web:{HOST}:orgs:acme"
LIST_URL = f"https://{HOST}/status/1"


class RemoteIssuer:
    """An issuer on another host: its keys, its DID document served by `remote_web`."""

    def __init__(self, remote_web, did: str = DID) -> None:
        self.web, self.did = remote_web, did
        self.ed25519 = keys.generate_private_key("Ed25519")
        self.p256 = keys.generate_private_key("P-256")
        self.rsa = keys.generate_private_key("RSA")
        self.methods = {name: f"{did}#{name}" for name in ("ed", "p256", "rsa")}

    def document(self, *, listed: tuple[str, ...] = ("ed", "p256", "rsa")) -> dict[str, Any]:
        pairs = (("ed", self.ed25519), ("p256", self.p256), ("rsa", self.rsa))
        return {
            "@context": [keys.DID_CONTEXT, keys.MULTIKEY_CONTEXT, keys.JWK_CONTEXT],
            "id": self.did,
            "verificationMethod": [
                keys.verification_method(self.methods[name], self.did, key.public_key()) for name, key in pairs
            ],
            "assertionMethod": [self.methods[name] for name in listed],
        }

    def publish(self, document: dict[str, Any] | None = None) -> None:
        self.web.serve(
            keys.did_web_document_url(self.did), document or self.document(), content_type="application/did+json"
        )

    def sign(self, credential: dict[str, Any]) -> dict[str, Any]:
        return data_integrity.sign(credential, self.ed25519, self.methods["ed"])

    def status_list(
        self, *revoked: int, valid_until: datetime | None = None, issuer: str | None = None, url: str = LIST_URL
    ) -> dict:
        bitstring = Bitstring()
        for index in revoked:
            bitstring.set(index)
        unsigned = build_status_list_credential(
            list_url=url,
            issuer=issuer or self.did,
            status_purpose="revocation",
            encoded_list=bitstring.encode(),
            valid_from=datetime.now(UTC) - timedelta(days=1),
            valid_until=valid_until,
        )
        return self.sign(unsigned)


def _credential(sample_credential: dict, issuer: str, *, status_index: int | None = None) -> dict[str, Any]:
    credential = {**sample_credential, "issuer": {**sample_credential["issuer"], "id": issuer}}
    if status_index is not None:
        credential["credentialStatus"] = build_status_list_entry(
            list_url=LIST_URL, index=status_index, status_purpose="revocation"
        )
    return credential


async def test_a_did_web_credential_verifies_from_its_well_known_document(client, remote_web, sample_credential):
    remote = RemoteIssuer(remote_web)
    remote.publish()
    result = await verify_json(client, remote.sign(_credential(sample_credential, DID)))
    assert result["verified"] is True, result["failures"]
    checks = checks_of(result)
    assert f"did:web document https://{HOST}/.well-known/did.json" in checks["signature"]["reason"]
    assert checks["issuer"]["outcome"] == "passed"
    [request] = remote_web.requests
    assert request.headers["host"] == HOST and request.url.host != HOST  # connected to the vetted address


async def test_did_web_path_form_and_every_key_type_in_a_vc_jwt(client, remote_web, sample_credential):
    remote = RemoteIssuer(remote_web, PATH_DID)
    remote.publish()
    credential = _credential(sample_credential, PATH_DID)
    for name, private_key in (("ed", remote.ed25519), ("p256", remote.p256), ("rsa", remote.rsa)):
        token = vc_jwt.sign(credential, private_key, kid=remote.methods[name])
        result = await verify_json(client, {"jwt": token})
        assert result["verified"] is True, (name, result["failures"])
        assert f"https://{HOST}/orgs/acme/did.json" in checks_of(result)["signature"]["reason"]


async def test_did_web_documents_that_do_not_vouch_for_the_key_are_refused(client, remote_web, sample_credential):
    remote = RemoteIssuer(remote_web)
    signed = remote.sign(_credential(sample_credential, DID))
    reasons = {}
    remote.publish(remote.document(listed=("rsa",)))
    reasons["not listed"] = checks_of(await verify_json(client, signed))["signature"]["reason"]
    remote.publish({**remote.document(), "id": "did:web:someone.else.example"})
    reasons["other id"] = checks_of(await verify_json(client, signed))["signature"]["reason"]
    remote.publish({**remote.document(), "verificationMethod": []})
    reasons["no method"] = checks_of(await verify_json(client, signed))["signature"]["reason"]
    assert "not listed under assertionMethod" in reasons["not listed"]
    assert "describes 'did:web:someone.else.example'" in reasons["other id"]
    assert "has no verification method" in reasons["no method"]
    remote_web.host(HOST, "192.168.7.7")
    refused = checks_of(await verify_json(client, signed))["signature"]
    assert refused["outcome"] == "failed" and "192.168.7.7, a private address" in refused["reason"]


async def test_a_signature_by_another_did_web_fails_the_issuer_check(client, remote_web, sample_credential):
    remote = RemoteIssuer(remote_web)
    remote.publish()
    result = await verify_json(client, remote.sign(_credential(sample_credential, "did:web:victim.example")))
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed" and checks["issuer"]["outcome"] == "failed"
    assert "names did:web:victim.example as issuer" in checks["issuer"]["reason"]


async def test_an_https_kid_dereferences_to_a_jwk_or_a_jwks(client, remote_web, sample_credential):
    issuer_url = f"https://{HOST}/issuers/7"
    private_key = keys.generate_private_key("P-256")
    jwk = keys.public_jwk(private_key.public_key(), kid=f"{issuer_url}/keys/1")
    remote_web.serve(f"{issuer_url}/keys/1", jwk, content_type="application/jwk+json")
    other = keys.public_jwk(keys.generate_private_key("RSA").public_key(), kid="rsa-1")
    remote_web.serve(f"{issuer_url}/jwks.json", {"keys": [other, {**jwk, "kid": "p256-1"}]})
    credential = _credential(sample_credential, issuer_url)
    direct = await verify_json(client, {"jwt": vc_jwt.sign(credential, private_key, kid=f"{issuer_url}/keys/1")})
    assert checks_of(direct)["signature"]["outcome"] == "passed", direct["failures"]
    via_jwks = await verify_json(
        client, {"jwt": vc_jwt.sign(credential, private_key, kid=f"{issuer_url}/jwks.json#p256-1")}
    )
    assert checks_of(via_jwks)["signature"]["outcome"] == "passed", via_jwks["failures"]
    assert "JWK at" in checks_of(via_jwks)["signature"]["reason"]
    missing = await verify_json(
        client, {"jwt": vc_jwt.sign(credential, private_key, kid=f"{issuer_url}/jwks.json#nope")}
    )
    assert "no single key with kid 'nope'" in checks_of(missing)["signature"]["reason"]
    # The key lives at the issuer's URL, not at the issuer's own id: the binding is not assumed.
    assert checks_of(direct)["issuer"]["outcome"] == "failed"
    on_profile = {**credential, "issuer": {**credential["issuer"], "id": f"{issuer_url}/keys/1"}}
    bound = await verify_json(client, {"jwt": vc_jwt.sign(on_profile, private_key, kid=f"{issuer_url}/keys/1")})
    assert checks_of(bound)["issuer"]["outcome"] == "passed"


async def test_a_plain_http_or_oversized_key_document_is_refused(client, remote_web, sample_credential):
    private_key = keys.generate_private_key("Ed25519")
    credential = _credential(sample_credential, f"http://{HOST}/issuer")
    token = vc_jwt.sign(credential, private_key, kid=f"http://{HOST}/key")
    reason = checks_of(await verify_json(client, {"jwt": token}))["signature"]["reason"]
    assert "scheme 'http' is refused" in reason
    remote_web.serve(f"https://{HOST}/big", b"[" + b"0," * 700_000 + b"0]", chunks=20)
    token = vc_jwt.sign(credential, private_key, kid=f"https://{HOST}/big")
    reason = checks_of(await verify_json(client, {"jwt": token}))["signature"]["reason"]
    assert "(too_large)" in reason
    remote_web.serve(f"https://{HOST}/slow", {"kty": "OKP"}, delay_seconds=5)
    token = vc_jwt.sign(credential, private_key, kid=f"https://{HOST}/slow")
    reason = checks_of(await verify_json(client, {"jwt": token}))["signature"]["reason"]
    assert "(timeout)" in reason


async def test_a_remote_status_list_is_fetched_verified_and_read(client, remote_web, sample_credential):
    remote = RemoteIssuer(remote_web)
    remote.publish()
    signed = remote.sign(_credential(sample_credential, DID, status_index=41))
    remote_web.serve(LIST_URL, remote.status_list(7), content_type="application/vc+ld+json")
    result = await verify_json(client, signed)
    assert result["verified"] is True, result["failures"]
    assert LIST_URL in checks_of(result)["status"]["reason"]
    remote_web.serve(LIST_URL, remote.status_list(41), content_type="application/vc+ld+json")
    revoked = await verify_json(client, signed)
    assert revoked["verified"] is False and "revocation: the credential has been revoked" in revoked["failures"][0]
    # The same list as a VC-JWT (ES256, its kid in the DID document).
    unsigned_list = {k: v for k, v in remote.status_list(41).items() if k != "proof"}
    as_jwt = vc_jwt.sign(unsigned_list, remote.p256, kid=remote.methods["p256"])
    remote_web.serve(LIST_URL, as_jwt, content_type="application/vc+jwt")
    assert "revoked" in (await verify_json(client, signed))["failures"][0]
    as_jwt = vc_jwt.sign(
        {k: v for k, v in remote.status_list().items() if k != "proof"}, remote.rsa, kid=remote.methods["rsa"]
    )
    remote_web.serve(LIST_URL, as_jwt, content_type="application/vc+jwt")
    assert (await verify_json(client, signed))["verified"] is True


async def test_a_remote_status_list_that_cannot_be_trusted_fails_the_status_check(
    client, remote_web, sample_credential
):
    remote = RemoteIssuer(remote_web)
    remote.publish()
    signed = remote.sign(_credential(sample_credential, DID, status_index=3))

    async def status_reason(document: Any, **page: Any) -> str:
        remote_web.serve(LIST_URL, document, **page)
        check = checks_of(await verify_json(client, signed))["status"]
        assert check["outcome"] == "failed", check
        return check["reason"]

    tampered = remote.status_list()
    tampered["credentialSubject"]["encodedList"] = remote.status_list(3)["credentialSubject"]["encodedList"]
    assert "invalid_signature" in await status_reason(tampered)
    stranger = RemoteIssuer(remote_web, "did:web:stranger.example")
    stranger.publish()
    assert "not by the credential's issuer" in await status_reason(stranger.status_list(issuer=stranger.did))
    expired = remote.status_list(valid_until=datetime.now(UTC) - timedelta(hours=1))
    assert "is not valid now: expired" in await status_reason(expired)
    assert "HTTP 404" in await status_reason(b"", status=404)
    assert "(content_type)" in await status_reason(b"<html/>", content_type="text/html")
    assert "(bad_json)" in await status_reason(b"{oops", content_type="application/json")
    # A compressed bomb: 17 MiB of zeros in a few kilobytes, refused by the decoder, not inflated.
    bomb = remote.status_list()
    compressed = gzip.compress(bytes(17 * 1024 * 1024), mtime=0)
    bomb["credentialSubject"]["encodedList"] = "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()
    bomb = remote.sign({k: v for k, v in bomb.items() if k != "proof"})
    assert "decompresses to more than" in await status_reason(bomb)


async def test_our_own_keys_are_found_in_the_database_never_over_http(client, headers, issuer, assessment, remote_web):
    for identifier, jwt_key_type in (("did:web", "P-256"), ("https", "RSA")):
        body = {"name": f"Academy {identifier}", "identifier": identifier, "jwt_key_type": jwt_key_type}
        created = await client.post("/v1/issuers", json=body, headers=headers)
        assert created.status_code == 201, created.text
        for proof_format in ("vc-jwt", "data-integrity"):
            response = await client.post(
                "/v1/assessment-results",
                json=assessment(issuer_id=created.json()["id"], proof_format=proof_format),
                headers=idempotent(headers),
            )
            assert response.status_code == 201, response.text
            issued = response.json()["credential"]
            body = {"jwt": issued["jwt"]} if proof_format == "vc-jwt" else issued["credential"]
            result = await verify_json(client, body)
            assert result["verified"] is True, (identifier, proof_format, result["failures"])
            assert "a key of this service" in checks_of(result)["signature"]["reason"]
    assert remote_web.requests == []


async def test_a_key_revoked_as_compromised_fails_the_signature_check(client, issuer_app, headers, issuer, assessment):
    response = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    issued = response.json()["credential"]
    assert (await verify_json(client, issued["credential"]))["verified"] is True
    kid = issued["credential"]["proof"][0]["verificationMethod"]
    async with issuer_app.state.database.sessions() as session:
        await session.execute(update(IssuerKey).where(IssuerKey.kid == kid).values(status="compromised"))
        await session.commit()
    result = await verify_json(client, issued["credential"])
    signature = checks_of(result)["signature"]
    assert result["verified"] is False and signature["outcome"] == "failed"
    assert "revoked by its issuer as compromised" in signature["reason"] and kid in signature["reason"]


async def test_an_unknown_key_or_list_under_our_own_url_is_not_fetched(client, remote_web, sample_credential):
    from tests.badge_issuer.conftest import ISSUER_BASE_URL

    private_key = keys.generate_private_key("Ed25519")
    kid = f"{ISSUER_BASE_URL}/v1/public/issuers/{uuid.uuid4()}/keys/{uuid.uuid4()}"
    token = vc_jwt.sign(_credential(sample_credential, "https://x.example"), private_key, kid=kid)
    reason = checks_of(await verify_json(client, {"jwt": token}))["signature"]["reason"]
    assert "names this service, which has no such key" in reason
    assert remote_web.requests == []


async def test_a_p256_multikey_in_a_did_document_verifies_a_jwt(client, remote_web, sample_credential):
    from cryptography.hazmat.primitives import serialization

    private_key = keys.generate_private_key("P-256")
    point = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    method = f"{DID}#p256-multikey"
    multikey = keys.encode_multibase_base58btc(b"\x80\x24" + point)
    document = {
        "id": DID,
        "verificationMethod": [{"id": method, "type": "Multikey", "controller": DID, "publicKeyMultibase": multikey}],
        "assertionMethod": ["#p256-multikey"],  # relative references resolve against the DID
    }
    remote_web.serve(keys.did_web_document_url(DID), document)
    token = vc_jwt.sign(_credential(sample_credential, DID), private_key, kid=method)
    result = await verify_json(client, {"jwt": token})
    assert result["verified"] is True, result["failures"]


async def test_hostile_remote_documents_fail_with_a_reason_never_a_500(client, remote_web, sample_credential):
    private_key = keys.generate_private_key("Ed25519")
    kid = f"https://{HOST}/key"
    method = f"{DID}#k"
    hostile = [
        ["not", "an", "object"],
        {"keys": [{"kid": ["unhashable"]}, "junk", {"kid": "k", "kty": "RSA", "n": "!!", "e": "AQAB"}]},
        {"keys": "nope"},
        {"kty": "OKP", "crv": "Ed25519", "x": "short"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": "private"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        {"id": kid.split("#")[0], "verificationMethod": "junk", "assertionMethod": [[1], {"id": 5}]},
        {
            "id": DID,
            "verificationMethod": [{"id": method, "publicKeyMultibase": "zNotBase58!"}],
            "assertionMethod": [method],
        },
        {"id": DID, "verificationMethod": [{"id": method, "type": "Unknown2030"}], "assertionMethod": [method]},
    ]
    credential = _credential(sample_credential, DID)
    for document in hostile:
        remote_web.serve(kid, document)
        remote_web.serve(keys.did_web_document_url(DID), document)
        for reference in (kid, f"{kid}#k", method):
            result = await verify_json(client, {"jwt": vc_jwt.sign(credential, private_key, kid=reference)})
            signature = checks_of(result)["signature"]
            assert signature["outcome"] == "failed" and signature["reason"], (document, reference)


async def test_a_credential_its_schema_refuses_makes_no_fetch(client, remote_web, sample_credential):
    """Four status lists (the OB 3.0 schema allows one): the schema check fails first, so neither the
    did:web key nor any list is fetched, and both checks say why."""
    remote = RemoteIssuer(remote_web)
    remote.publish()
    urls = [f"https://{HOST}/status/{n}" for n in range(1, 5)]
    for url in urls:
        remote_web.serve(url, remote.status_list(url=url), content_type="application/vc+ld+json")
    credential = _credential(sample_credential, DID)
    credential["credentialStatus"] = [
        build_status_list_entry(list_url=url, index=1, status_purpose="revocation") for url in urls
    ]
    result = await verify_json(client, remote.sign(credential))
    checks = checks_of(result)
    assert checks["schema"]["outcome"] == "failed" and checks["schema"]["code"] == "schema_mismatch"
    assert "does not match its 1EdTech schema" in checks["signature"]["reason"]
    assert checks["status"]["outcome"] == "failed" and "is not fetched" in checks["status"]["reason"]
    assert remote_web.requests == []


async def test_one_verification_fetches_a_bounded_number_of_documents(client, remote_web, sample_credential):
    """A CLR holding eight credentials of a did:web issuer (its document fetched for each: nothing here
    is cacheable): past the per-verification budget the rest is not fetched, and each says so."""
    remote = RemoteIssuer(remote_web)
    remote.publish()
    held = [remote.sign({**_credential(sample_credential, DID), "id": f"urn:uuid:{uuid.uuid4()}"}) for _ in range(8)]
    clr = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": {"id": DID, "type": ["Profile"], "name": "Remote Academy"},
        "validFrom": "2026-01-15T09:30:00Z",
        "name": "Transcript",
        "credentialSubject": {"type": ["ClrSubject"], "verifiableCredential": held},
    }
    result = await verify_json(client, remote.sign(clr))
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed", checks["signature"]
    assert len(result["credentials"]) == 8
    fetched = [nested["verified"] for nested in result["credentials"]]
    assert fetched == [True] * 5 + [False] * 3
    assert "fetches at most 6 documents" in checks_of(result["credentials"][5])["signature"]["reason"]
    assert checks["credentials"]["outcome"] == "failed" and checks["credentials"]["code"] == "credential_not_verified"
    assert len(remote_web.requests) == 6


REVOCATION_LIST_URL = f"https://{HOST}/revocations/1"


async def test_a_1edtech_revocation_list_is_fetched_and_read(client, remote_web, sample_credential):
    remote = RemoteIssuer(remote_web)
    remote.publish()
    credential = _credential(sample_credential, DID)
    credential["credentialStatus"] = {"id": REVOCATION_LIST_URL, "type": "1EdTechRevocationList"}
    signed = remote.sign(credential)

    def serve(*revoked: dict[str, Any], issuer: str = DID) -> None:
        body = {"id": REVOCATION_LIST_URL, "issuer": issuer, "revokedCredentials": list(revoked)}
        remote_web.serve(REVOCATION_LIST_URL, body)

    serve({"id": "urn:uuid:someone-else"})
    result = await verify_json(client, signed)
    assert result["verified"] is True, result["failures"]
    assert checks_of(result)["status"]["code"] == "not_revoked"
    serve({"id": credential["id"], "revocationReason": "assessment voided"})
    status = checks_of(await verify_json(client, signed))["status"]
    assert status["code"] == "revoked" and "assessment voided" in status["reason"]
    # Another issuer's list says nothing about this credential, either way.
    serve({"id": credential["id"]}, issuer="did:web:someone.else.example")
    status = checks_of(await verify_json(client, signed))["status"]
    assert status["code"] == "status_unavailable" and "not the credential issuer's" in status["reason"]
    remote_web.serve(REVOCATION_LIST_URL, {"issuer": DID, "revokedCredentials": [{"reason": "no id"}]})
    assert checks_of(await verify_json(client, signed))["status"]["code"] == "malformed_status"
    remote_web.serve(REVOCATION_LIST_URL, b"", status=404)
    status = checks_of(await verify_json(client, signed))["status"]
    assert status["code"] == "status_unavailable" and "HTTP 404" in status["reason"]


async def test_a_status_list_credential_itself_verifies(client, remote_web):
    """What a relying party that keeps copies of lists (the gap engine) asks: is this list the issuer's?"""
    remote = RemoteIssuer(remote_web)
    remote.publish()
    result = await verify_json(client, remote.status_list(3))
    assert result["verified"] is True and result["issuer_bound"] is True, result["failures"]
    assert result["issuer"] == DID and checks_of(result)["schema"]["code"] == "status_list_shape"
    stranger = RemoteIssuer(remote_web, "did:web:stranger.example")
    stranger.publish()
    forged = remote.status_list(3, issuer=stranger.did)  # signed by remote, claiming to be stranger's
    assert (await verify_json(client, forged))["verified"] is False
