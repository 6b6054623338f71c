"""`POST /v1/verify` on credentials made by libraries nobody here wrote (tests/interop/node/sign-suites.mjs):
Digital Bazaar's Ed25519Signature2020 (the DCC stack) and ecdsa-rdfc-2019 suites, panva/jose VC-JWTs with
the key in the `jwk` header or a did:jwk kid. Each also as a tampered copy, which must fail."""

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.badge_issuer.conftest import checks_of, verify_json
from tests.interop.test_node_verifiers import run_node

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

SAMPLE = Path(__file__).resolve().parent / "data" / "sample-credential.json"


def _signed_by_node(form: str, **options: Any) -> dict[str, Any]:
    credential = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return run_node("sign-suites.mjs", json.dumps({"form": form, "credential": credential, **options}))


@pytest.mark.parametrize(
    ("form", "suite"), [("Ed25519Signature2020", "Ed25519Signature2020"), ("ecdsa-rdfc-2019",) * 2]
)
async def test_a_digital_bazaar_data_integrity_credential_verifies_and_its_tampered_copy_does_not(client, form, suite):
    signed = _signed_by_node(form)["credential"]
    result = await verify_json(client, signed)
    checks = checks_of(result)
    assert result["verified"] is True, result["failures"]
    assert suite in checks["signature"]["reason"] and checks["issuer"]["code"] == "issuer_bound"
    assert result["issuer_bound"] is True
    # Digital Bazaar writes `proof` as an object: 1EdTech's JSON-LD adaptation allows it, the strict
    # schema does not, and the report says which.
    assert checks["schema"]["outcome"] == "warning" and checks["schema"]["code"] == "schema_jsonld_adaptation"
    assert "$.proof" in checks["schema"]["reason"]

    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["name"] = "Data Analysis with SQL (Distinction)"
    tampered_result = await verify_json(client, tampered)
    assert tampered_result["verified"] is False
    assert checks_of(tampered_result)["signature"]["code"] == "invalid_signature"
    # Safe mode: a term the OB 3.0 context does not define would be dropped from what is signed.
    padded = copy.deepcopy(signed)
    padded["credentialSubject"]["favouriteColour"] = "teal"
    padded_signature = checks_of(await verify_json(client, padded))["signature"]
    assert padded_signature["code"] == "canonicalization_failed" and "favouriteColour" in padded_signature["reason"]


async def test_a_jose_jwt_with_a_jwk_header_verifies_but_is_not_bound(client):
    token = _signed_by_node("jwt-jwk")["jwt"]
    result = await verify_json(client, {"jwt": token})
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed" and "EdDSA with jwk header" in checks["signature"]["reason"]
    assert checks["issuer"]["code"] == "issuer_unbound" and result["issuer_bound"] is False
    assert result["verified"] is True, result["failures"]
    header, payload, signature = token.split(".")
    # A middle character carries six whole bits, so the copy is still well-formed base64url.
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    tampered = await verify_json(client, {"jwt": f"{header}.{payload}.{flipped}"})
    assert checks_of(tampered)["signature"]["code"] == "invalid_signature"


async def test_a_jose_jwt_with_a_did_jwk_kid_is_bound_to_that_did(client):
    token = _signed_by_node("jwt-did-jwk")["jwt"]
    result = await verify_json(client, {"jwt": token})
    checks = checks_of(result)
    assert result["verified"] is True, result["failures"]
    assert checks["issuer"]["code"] == "issuer_bound" and result["key_source"] == "did:jwk, resolved offline"
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"].startswith("did:jwk:") and header["kid"].endswith("#0") and header["alg"] == "ES256"
    # Someone else's did:jwk as kid: the signature no longer matches the key it names.
    other = _signed_by_node("jwt-did-jwk")["jwt"]
    other_header = other.split(".")[0]
    spliced = await verify_json(client, {"jwt": ".".join([other_header, *token.split(".")[1:]])})
    assert checks_of(spliced)["signature"]["code"] == "invalid_signature"
