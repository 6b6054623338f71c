"""An Open Badges 2.0 badge people already hold counts like an OB 3.0 one: the issuer's verifier reads
the hosted assertion (written in the OB 2.0 shapes, served on loopback), its BadgeClass alignment maps
to our skills, and its recipient (a salted sha256 of the email) binds it to the right employee only.

Demo: Project Manager needs Active listening 2 (must).
"""

import pytest

from tests.badge_issuer import spec_documents
from tests.badge_issuer.test_verify_ob2 import ESCO_SKILL, LOOPBACK, Badge, web  # noqa: F401 - `web` is a fixture
from tests.gap_engine.conftest import build_issuer_app, close_issuer_app
from tests.gap_engine.test_credentials import _listening, _post, _trust

# The assertion's recipient: "sha256$" + sha256(email + salt), per OB 2.0 §IdentityObject.
BETH = spec_documents.OB2_RECIPIENT


@pytest.fixture
async def issuer_app(service_settings, taxonomy_app):
    """The real issuer, allowed to fetch from the loopback web the hosted badge lives on."""
    app = build_issuer_app(
        service_settings, taxonomy_app, fetch_allowed_hosts=[LOOPBACK], fetch_allow_http_hosts=[LOOPBACK]
    )
    yield app
    await close_issuer_app(app)


async def test_a_hosted_ob2_badge_counts_for_its_recipient_only(client, headers, roles, demo, web):  # noqa: F811
    badge = Badge(web)
    badge.publish()
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    for hris_id, email in (("E-BETH", BETH), ("E-OTHER", "someone@example.org")):
        body = {"name": hris_id, "email": email, "target_role_id": role_id}
        assert (await client.put(f"/v1/employees/{hris_id}", json=body, headers=headers)).status_code == 201
    mapping = {"target": ESCO_SKILL, "skill_id": str(demo["Active listening"]), "level": 2}
    assert (await client.post("/v1/alignment-mappings", json=mapping, headers=headers)).status_code == 201
    await _trust(client, headers, badge.issuer["id"])

    claimed = await _post(client, headers, "E-OTHER", badge.assertion)
    assert claimed["format"] == "ob2-hosted" and claimed["status"] == "recipient_mismatch", claimed
    assert (await _listening(client, headers, "E-OTHER", demo))[0] is None

    held = await _post(client, headers, "E-BETH", badge.assertion)
    assert held["status"] == "verified" and held["recipient"] == "bound", held
    assert held["skills"] == [
        {
            "skill_id": str(demo["Active listening"]),
            "level": 2,
            "source": "mapping",
            "target": ESCO_SKILL,
            "skill_name": None,
        }
    ]
    assert (await _listening(client, headers, "E-BETH", demo))[0] == 2
    assert held["earned_at"].startswith(badge.assertion["issuedOn"][:10])
