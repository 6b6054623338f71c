"""A credential issued to a holder's DID counts for an employee only after the employee's wallet proves
control of that DID by signing a challenge the gap engine issued (a VP-JWT, EdDSA, did:key)."""

import time

import jwt

from services.badge_issuer.proofs import keys
from tests.gap_engine.test_alignment_mapping import ESCO_ALIGNMENT, PartnerAcademy
from tests.gap_engine.test_credentials import _post, _trust

AUDIENCE = "http://127.0.0.1:8003"  # the gap engine's public_base_url in the tests


def _presentation(private_key, did: str, nonce: str, audience: str = AUDIENCE) -> str:
    claims = {
        "iss": did,
        "aud": audience,
        "nonce": nonce,
        "iat": int(time.time()),
        "vp": {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"]},
    }
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": keys.did_key_verification_method(did)})


async def _challenge(client, headers, hris_id: str, did: str) -> dict:
    response = await client.post(f"/v1/employees/{hris_id}/did-challenges", json={"did": did}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_did_bound_badge_counts_once_the_employee_proves_the_did(client, headers, roles, demo, gap_app):
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    for hris_id in ("E-D1", "E-D2"):
        body = {"name": hris_id, "target_role_id": role_id}
        assert (await client.put(f"/v1/employees/{hris_id}", json=body, headers=headers)).status_code == 201
    holder_key = keys.generate_private_key("Ed25519")
    holder = keys.did_key_for(holder_key.public_key())
    partner = PartnerAcademy()
    await _trust(client, headers, partner.did)
    received = await _post(client, headers, "E-D1", partner.credential([ESCO_ALIGNMENT], subject_did=holder))
    assert received["status"] == "recipient_unverified" and holder in received["reasons"][0]

    audience = gap_app.state.settings.public_base_url
    challenge = await _challenge(client, headers, "E-D1", holder)
    assert challenge["audience"] == audience
    proofs = "/v1/employees/E-D1/did-proofs"

    # Refused: someone else's key, the wrong audience, another employee's challenge.
    impostor = keys.generate_private_key("Ed25519")
    forged = _presentation(impostor, holder, challenge["challenge"], audience)
    assert (await client.post(proofs, json={"presentation": forged}, headers=headers)).status_code == 422
    elsewhere = _presentation(holder_key, holder, challenge["challenge"], "https://elsewhere.example")
    assert (await client.post(proofs, json={"presentation": elsewhere}, headers=headers)).status_code == 422
    theirs = await _challenge(client, headers, "E-D2", holder)
    cross = _presentation(holder_key, holder, theirs["challenge"], audience)
    assert (await client.post(proofs, json={"presentation": cross}, headers=headers)).status_code == 422
    assert (await client.get("/v1/employees/E-D1/credentials", headers=headers)).json()["items"][0]["status"] == (
        "recipient_unverified"
    )

    good = _presentation(holder_key, holder, challenge["challenge"], audience)
    proved = await client.post(proofs, json={"presentation": good}, headers=headers)
    assert proved.status_code == 201, proved.text
    items = (await client.get("/v1/employees/E-D1/credentials", headers=headers)).json()["items"]
    assert [(item["status"], item["recipient"]) for item in items] == [("verified", "bound")]
    dids = (await client.get("/v1/employees/E-D1/dids", headers=headers)).json()["items"]
    assert [d["did"] for d in dids] == [holder]
    # A challenge is single use.
    assert (await client.post(proofs, json={"presentation": good}, headers=headers)).status_code == 422
