"""`POST /v1/verify` on the credentials people hold, signed at test time by code nobody here wrote
(Digital Bazaar's suites, through tests/interop/node/sign-suites.mjs) over documents written in the
specifications' shapes (tests/badge_issuer/spec_documents.py): Ed25519Signature2020, ecdsa-rdfc-2019 on
P-256 and P-384, the legacy eddsa-2022, a CLR 2.0 transcript; keys in a JOSE `jwk` header or a did:jwk;
SVGs with the SVG 1.1 DOCTYPE. Each has a tampered copy that must fail, and every check is reported even
when an earlier one failed."""

import base64
import copy
import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest

from services.badge_issuer.baking import svg
from services.badge_issuer.proofs import data_integrity, keys
from tests.badge_issuer import spec_documents
from tests.badge_issuer.conftest import checks_of, verify_json
from tests.interop.test_node_verifiers import run_node
from tests.material import SHARED_DIR

pytestmark = pytest.mark.anyio

SAMPLE = Path(__file__).resolve().parent / "data" / "sample-credential.json"
SVG11_DOCTYPE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><circle cx="60" cy="60" r="50"/></svg>\n'
)


@functools.cache
def _node_signed(form: str, document: str, options: str = "{}") -> str:
    """`document` signed once per run by sign-suites.mjs in `form` (JSON in, JSON out: cached)."""
    body = {"form": form, "credential": json.loads(document), **json.loads(options)}
    return json.dumps(run_node("sign-suites.mjs", json.dumps(body))["credential"])


def _signed(form: str, document: dict[str, Any], **options: Any) -> dict[str, Any]:
    """A fresh copy of what Digital Bazaar's suite `form` signed."""
    return json.loads(_node_signed(form, json.dumps(document), json.dumps(options, sort_keys=True)))


def _sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


# --- Data Integrity suites, signed by Digital Bazaar ------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize(
    ("form", "options", "suite"),
    [
        ("Ed25519Signature2020", {}, "Ed25519Signature2020"),
        ("ecdsa-rdfc-2019", {"curve": "P-256"}, "ecdsa-rdfc-2019"),
        ("ecdsa-rdfc-2019", {"curve": "P-384"}, "ecdsa-rdfc-2019"),
    ],
)
async def test_a_foreign_did_key_signature_verifies_and_its_tampered_copy_does_not(
    client, remote_web, form, options, suite
):
    credential = _signed(form, spec_documents.alumni_credential(), keepIssuer=True, **options)
    assert credential["proof"]["verificationMethod"].startswith("did:key:")
    result = await verify_json(client, credential)
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed", checks["signature"]
    assert checks["signature"]["code"] == "valid_signature" and suite in checks["signature"]["reason"]
    assert result["key_source"] == "did:key, resolved offline"
    # The issuer is an https URL, its key a did:key: someone else's key, so not theirs.
    assert checks["issuer"]["code"] == "issuer_mismatch" and result["issuer_bound"] is False
    # An AlumniCredential has no 1EdTech schema: said in words, and the type named.
    assert (
        checks["schema"]["code"] == "unsupported_credential_type" and "AlumniCredential" in checks["schema"]["reason"]
    )
    assert checks["validity_window"]["outcome"] == "passed"
    assert remote_web.requests == []

    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["alumniOf"] = "The School of Forgery"
    tampered_result = await verify_json(client, tampered)
    assert checks_of(tampered_result)["signature"]["code"] == "invalid_signature"
    assert tampered_result["issuer_bound"] is None


@pytest.mark.interop
async def test_an_ecdsa_proof_checked_with_an_ed25519_key_fails_on_the_key_type(client):
    credential = _signed("ecdsa-rdfc-2019", spec_documents.alumni_credential(), keepIssuer=True)
    ed_did = keys.did_key_for(keys.generate_private_key().public_key())
    credential["proof"]["verificationMethod"] = keys.did_key_verification_method(ed_did)
    assert checks_of(await verify_json(client, credential))["signature"]["code"] == "wrong_key_type"


@pytest.mark.interop
@pytest.mark.parametrize("untyped", [False, True], ids=["context-now", "context-2022-23"])
async def test_legacy_eddsa_2022_verifies_with_a_warning_and_its_tampered_copy_does_not(client, remote_web, untyped):
    """Digital Bazaar's eddsa-2022 suite (1.0.0, before the rename to eddsa-rdfc-2022), its key named by
    an https URL whose fragment is the Multikey: the key is read from the fragment (nothing fetched: the
    credential has no 1EdTech schema), self-asserted. Signed under today's VC 2.0 context, and under it as
    it was when eddsa-2022 proofs were made, `cryptosuite` an untyped string (the verifier's second
    reading of the proof configuration)."""
    issuer = spec_documents.ALUMNI_ISSUER
    options = {"controller": issuer, "untypedCryptosuite": untyped}
    credential = _signed("eddsa-2022", spec_documents.alumni_credential(), **options)
    assert credential["proof"]["cryptosuite"] == "eddsa-2022"
    assert credential["proof"]["verificationMethod"].startswith(f"{issuer}#z6Mk")
    result = await verify_json(client, credential)
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "warning" and checks["signature"]["code"] == "legacy_cryptosuite"
    assert "eddsa-2022" in checks["signature"]["reason"] and "legacy" in checks["signature"]["reason"]
    assert any(line.startswith("signature: ") and "legacy" in line for line in result["warnings"])
    assert checks["issuer"]["outcome"] == "warning" and checks["issuer"]["code"] == "issuer_unbound"
    assert result["issuer_bound"] is False and "self-asserted" in result["key_source"]
    assert remote_web.requests == []

    tampered = copy.deepcopy(credential)
    tampered["validFrom"] = "2022-01-01T00:00:00Z"
    assert checks_of(await verify_json(client, tampered))["signature"]["code"] == "invalid_signature"


# --- CLR 2.0 ------------------------------------------------------------------------------------------


def _signed_clr() -> dict[str, Any]:
    """The transcript and the credential it holds, each signed with one Ed25519 key by Digital Bazaar's
    eddsa-rdfc-2022 suite, the key named `<issuer URL>#<Multikey>` as 1EdTech's CLR example does."""
    return _signed(
        "eddsa-rdfc-2022", spec_documents.clr_credential(), controller=spec_documents.CLR_ISSUER, signNested=True
    )


@pytest.mark.interop
async def test_a_clr_and_each_credential_it_holds_are_verified_and_reported(client):
    clr = _signed_clr()
    result = await verify_json(client, clr)
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed", checks["signature"]
    assert checks["schema"]["outcome"] == "passed" and "CLR 2.0 ClrCredential" in checks["schema"]["reason"]
    assert checks["issuer"]["code"] == "issuer_unbound"
    (held,) = result["credentials"]
    assert held["credential_id"] == spec_documents.HELD_CREDENTIAL_ID
    assert checks_of(held)["signature"]["outcome"] == "passed"
    # Written as 1EdTech's CLR examples are, with single values (`"type": "Profile"`) where the strict OB 3.0
    # schema wants arrays: a warning naming the property, since 1EdTech's JSON-LD adaptation allows them.
    held_schema = checks_of(held)["schema"]
    assert held_schema["code"] == "schema_jsonld_adaptation" and "$.credentialSubject" in held_schema["reason"]
    assert held["verified"] is True and held["issuer_bound"] is False
    assert checks["credentials"]["code"] == "credentials_verified"
    assert result["verified"] is True and result["issuer_bound"] is False

    tampered = copy.deepcopy(clr)
    tampered["credentialSubject"]["verifiableCredential"][0]["name"] = "Course 1, passed with distinction"
    tampered_result = await verify_json(client, tampered)
    # The CLR's own proof covers what it holds, and the held credential's proof covers itself.
    assert checks_of(tampered_result)["signature"]["code"] == "invalid_signature"
    assert checks_of(tampered_result["credentials"][0])["signature"]["code"] == "invalid_signature"
    assert checks_of(tampered_result)["credentials"]["code"] == "credential_not_verified"
    details = checks_of(tampered_result)["credentials"]["details"]
    assert details[0].startswith(f"#0 {spec_documents.HELD_CREDENTIAL_ID}")


@pytest.mark.interop
async def test_a_clr_holding_too_many_credentials_checks_none(client):
    clr = _signed_clr()
    held = clr["credentialSubject"]["verifiableCredential"][0]
    clr["credentialSubject"]["verifiableCredential"] = [held] * 51
    result = await verify_json(client, clr)
    assert checks_of(result)["credentials"]["code"] == "too_many_credentials" and result["credentials"] == []


# --- EndorsementCredential ----------------------------------------------------------------------------


async def test_an_endorsement_is_checked_against_the_endorsement_schema(client):
    endorsement = json.loads((SHARED_DIR / "ob3" / "examples" / "spec" / "endorsement-1.json").read_text())
    endorsement.pop("proof", None)
    endorsement.pop("credentialStatus", None)
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    endorsement["issuer"]["id"] = did
    signed = data_integrity.sign(endorsement, private_key, keys.did_key_verification_method(did))
    result = await verify_json(client, signed)
    checks = checks_of(result)
    assert checks["schema"]["outcome"] == "passed" and "EndorsementCredential" in checks["schema"]["reason"]
    assert result["verified"] is True, result["failures"]

    broken = copy.deepcopy(endorsement)
    broken["credentialSubject"].pop("id")  # (dropping its type would drop endorsementComment's context)
    broken_result = await verify_json(
        client, data_integrity.sign(broken, private_key, keys.did_key_verification_method(did))
    )
    schema = checks_of(broken_result)["schema"]
    assert schema["code"] == "schema_mismatch" and "EndorsementCredential" in schema["reason"]
    assert "$.credentialSubject" in schema["reason"] and "'id' is a required property" in schema["reason"]


# --- every check reported -----------------------------------------------------------------------------


async def test_an_unresolvable_key_and_an_expiry_are_both_reported(client, remote_web):
    credential = _sample()
    credential["validUntil"] = "2026-02-01T00:00:00Z"
    private_key = keys.generate_private_key()
    credential["issuer"]["id"] = "did:example:issuer"
    signed = data_integrity.sign(credential, private_key, "did:example:issuer#key-1")
    result = await verify_json(client, signed)
    checks = checks_of(result)
    assert result["verified"] is False
    assert checks["signature"]["code"] == "unresolvable_verification_method"
    assert "did:example is not supported" in checks["signature"]["reason"]
    assert checks["validity_window"]["code"] == "expired"
    assert "expired at 2026-02-01T00:00:00Z (validUntil)" in checks["validity_window"]["reason"]
    assert [line.split(":")[0] for line in result["failures"]] == ["signature", "validity_window"]
    assert checks["schema"]["outcome"] == "passed" and checks["status"]["code"] == "no_status"
    assert {check["check"] for check in result["checks"]} == {
        "format",
        "signature",
        "issuer",
        "schema",
        "validity_window",
        "status",
    }


async def test_a_not_yet_valid_and_mistyped_credential_names_the_date_and_the_property(client):
    credential = _sample()
    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    credential["validFrom"] = later
    credential["credentialSubject"]["achievement"]["name"] = 42
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    credential["issuer"]["id"] = did
    result = await verify_json(
        client, data_integrity.sign(credential, private_key, keys.did_key_verification_method(did))
    )
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed" and checks["issuer"]["code"] == "issuer_bound"
    assert checks["validity_window"]["code"] == "not_yet_valid" and later in checks["validity_window"]["reason"]
    assert checks["schema"]["code"] == "schema_mismatch"
    assert "$.credentialSubject.achievement.name" in checks["schema"]["reason"]


# --- VC-JWT: jwk header, did:jwk ----------------------------------------------------------------------


def _jwt(credential: dict, private_key, headers: dict) -> str:
    algorithm = keys.jws_algorithm_for(private_key)
    return pyjwt.encode(credential, private_key, algorithm=algorithm, headers=headers)


def _did_jwk(public_key) -> str:
    jwk = {k: v for k, v in keys.public_jwk(public_key).items() if k in ("kty", "crv", "x", "y")}
    return "did:jwk:" + base64.urlsafe_b64encode(json.dumps(jwk).encode()).rstrip(b"=").decode()


async def test_a_jwt_with_its_key_in_the_jwk_header_verifies_unbound(client):
    private_key = keys.generate_private_key()
    jwk = {k: v for k, v in keys.public_jwk(private_key.public_key()).items() if k != "kid"}
    token = _jwt(_sample(), private_key, {"jwk": jwk, "typ": "vc+jwt"})
    result = await verify_json(client, {"jwt": token})
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed" and "jwk header" in checks["signature"]["reason"]
    assert checks["issuer"]["outcome"] == "warning" and checks["issuer"]["code"] == "issuer_unbound"
    assert result["issuer_bound"] is False and result["verified"] is True, result["failures"]

    header, payload, signature = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["name"] = "Data Analysis with SQL (Distinction)"
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    tampered = await verify_json(client, {"jwt": f"{header}.{forged_payload}.{signature}"})
    assert checks_of(tampered)["signature"]["code"] == "invalid_signature" and tampered["verified"] is False
    # The other checks still read the payload, and say it is unauthenticated.
    assert "signature did not verify" in checks_of(tampered)["validity_window"]["reason"]


async def test_a_jwk_header_holding_a_private_key_is_refused(client):
    private_key = keys.generate_private_key("P-256")
    numbers = private_key.private_numbers()
    jwk = {
        **keys.public_jwk(private_key.public_key()),
        "d": base64.urlsafe_b64encode(numbers.private_value.to_bytes(32, "big")).rstrip(b"=").decode(),
    }
    result = await verify_json(client, {"jwt": _jwt(_sample(), private_key, {"jwk": jwk})})
    signature = checks_of(result)["signature"]
    assert signature["code"] == "unresolvable_key" and "private key member" in signature["reason"]


@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
async def test_a_did_jwk_kid_is_resolved_and_bound_only_when_it_is_the_issuer(client, key_type):
    private_key = keys.generate_private_key(key_type)
    did = _did_jwk(private_key.public_key())
    credential = _sample()
    credential["issuer"]["id"] = did
    own = await verify_json(client, {"jwt": _jwt(credential, private_key, {"kid": f"{did}#0"})})
    assert checks_of(own)["signature"]["outcome"] == "passed", own["failures"]
    assert checks_of(own)["issuer"]["code"] == "issuer_bound" and own["issuer_bound"] is True
    assert own["key_source"] == "did:jwk, resolved offline"

    credential["issuer"]["id"] = "https://university.example/issuers/1"
    other = await verify_json(client, {"jwt": _jwt(credential, private_key, {"kid": f"{did}#0"})})
    assert checks_of(other)["issuer"]["code"] == "issuer_unbound" and other["issuer_bound"] is False

    impostor = keys.generate_private_key(key_type)
    forged = await verify_json(client, {"jwt": _jwt(credential, impostor, {"kid": f"{did}#0"})})
    assert checks_of(forged)["signature"]["code"] == "invalid_signature"


# --- SVG with a DOCTYPE -------------------------------------------------------------------------------


async def test_a_baked_svg_with_the_svg11_doctype_is_read_and_verified(client):
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    credential = _sample()
    credential["issuer"]["id"] = did
    signed = data_integrity.sign(credential, private_key, keys.did_key_verification_method(did))
    baked = svg.bake_credential(SVG11_DOCTYPE, signed)
    assert baked.startswith(SVG11_DOCTYPE[:150])  # the DOCTYPE is kept byte for byte
    response = await client.post("/v1/verify", files={"file": ("badge.svg", baked, "image/svg+xml")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["verified"] is True, result["failures"]
    assert result["extracted"]["id"] == credential["id"]

    tampered = baked.replace(b"Data Analysis with SQL", b"Data Analysis with SQL!", 1)
    tampered_result = (await client.post("/v1/verify", files={"file": ("badge.svg", tampered, "image/svg+xml")})).json()
    assert checks_of(tampered_result)["signature"]["outcome"] == "failed"


async def test_an_svg_doctype_declaring_entities_is_still_refused(client):
    hostile = SVG11_DOCTYPE.replace(
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">',
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    )
    response = await client.post("/v1/verify", files={"file": ("badge.svg", hostile, "image/svg+xml")})
    assert response.status_code == 422 and "EntitiesForbidden" in response.text
