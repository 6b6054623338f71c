"""Our signatures checked by implementations nobody here wrote (Digital Bazaar, panva/jose).

Needs `npm ci --prefix tests/interop/node` (CI runs it first). Without node_modules the
tests fail on purpose: skipping would let an interop break pass unnoticed.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.badge_issuer.proofs import data_integrity, keys, vc_jwt

pytestmark = pytest.mark.interop

NODE_DIR = Path(__file__).resolve().parent / "node"
SAMPLE = Path(__file__).resolve().parents[1] / "badge_issuer" / "data" / "sample-credential.json"


def run_node(script: str, stdin: str) -> dict[str, Any]:
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.fail("Node interop dependencies missing: run `npm ci --prefix tests/interop/node`")
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; the interop tests need Node 20+")
    completed = subprocess.run(  # noqa: S603 - fixed script, our own input
        [node, str(NODE_DIR / script)], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture
def credential() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def did_key_signed(credential):
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    credential["issuer"]["id"] = did
    return data_integrity.sign(credential, private_key, keys.did_key_verification_method(did))


def test_digital_bazaar_verifies_our_data_integrity_proof(did_key_signed):
    result = run_node("verify-di.mjs", json.dumps(did_key_signed))
    assert result == {"verified": True, "error": None}


def test_digital_bazaar_rejects_our_proof_on_a_tampered_credential(did_key_signed):
    tampered = copy.deepcopy(did_key_signed)
    tampered["name"] = "Data Analysis with SQL (Distinction)"
    result = run_node("verify-di.mjs", json.dumps(tampered))
    assert result["verified"] is False
    assert "Invalid signature" in result["error"]


def test_digital_bazaar_rejects_a_tampered_proof_value(did_key_signed):
    tampered = copy.deepcopy(did_key_signed)
    value = tampered["proof"][0]["proofValue"]
    tampered["proof"][0]["proofValue"] = value[:-2] + ("a" if value[-2] != "a" else "b") + value[-1]
    assert run_node("verify-di.mjs", json.dumps(tampered))["verified"] is False


def test_digital_bazaar_agrees_on_strings_with_control_characters(credential):
    # rdf-canonize 5 escapes \\b, \\f and other controls; pyld's serializer would not.
    private_key = keys.generate_private_key()
    did = keys.did_key_for(private_key.public_key())
    credential["issuer"]["id"] = did
    credential["credentialSubject"]["achievement"]["description"] = 'bell\x07 form\x0c tab\t "q" \\ é 🎓'
    signed = data_integrity.sign(credential, private_key, keys.did_key_verification_method(did))
    assert run_node("verify-di.mjs", json.dumps(signed)) == {"verified": True, "error": None}


def test_node_rejects_an_undefined_term_as_we_do(did_key_signed):
    tampered = copy.deepcopy(did_key_signed)
    tampered["credentialSubject"]["favouriteColour"] = "teal"
    assert run_node("verify-di.mjs", json.dumps(tampered))["verified"] is False
    assert data_integrity.verify(tampered).code == "canonicalization_failed"


@pytest.mark.parametrize("key_type", ["RSA", "P-256", "Ed25519"])
def test_jose_verifies_our_vc_jwt(credential, key_type):
    private_key = keys.generate_private_key(key_type)
    token = vc_jwt.sign(credential, private_key)
    result = run_node("verify-jwt.mjs", json.dumps({"jwt": token, "jwk": keys.public_jwk(private_key.public_key())}))
    assert result["verified"] is True, result["error"]
    assert result["header"]["alg"] == keys.jws_algorithm_for(private_key)
    assert result["header"]["kid"] == keys.key_id(private_key.public_key())
    assert result["payload"]["name"] == credential["name"]
    assert result["payload"]["iss"] == credential["issuer"]["id"]


@pytest.mark.parametrize("key_type", ["RSA", "P-256", "Ed25519"])
def test_jose_rejects_a_tampered_vc_jwt(credential, key_type):
    private_key = keys.generate_private_key(key_type)
    header, payload, signature = vc_jwt.sign(credential, private_key).split(".")
    tampered_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    jwk = keys.public_jwk(private_key.public_key())
    result = run_node("verify-jwt.mjs", json.dumps({"jwt": f"{header}.{payload}.{tampered_signature}", "jwk": jwk}))
    assert result["verified"] is False
    assert "signature" in result["error"].lower()


def test_we_verify_a_credential_signed_by_digital_bazaar(credential):
    """The other direction: sign-di.mjs issues with did:key; we verify its output."""
    completed = run_node_issue(credential)
    assert data_integrity.verify(completed).valid


def run_node_issue(credential: dict[str, Any]) -> dict[str, Any]:
    result = run_node("sign-di.mjs", json.dumps({"emit": True, "credential": credential}))
    return result["credential"]
