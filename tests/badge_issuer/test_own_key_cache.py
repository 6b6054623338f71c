"""The verifier's cache of this service's own keys: reused while the issuer key revision holds, and
never trusting a key longer than that revision says.

Every test drives the real issuer app over ASGI on the suite's database (SQLite, or PostgreSQL when
CREDSTACK_TEST_POSTGRES_URL is set); the revision is kept by the migration's triggers.
"""

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, event, select, text, update

from services.badge_issuer.db.tables import IssuerKey, IssuerKeyRevision
from tests.badge_issuer.conftest import idempotent

# Parametrized coroutine tests are marked anyio at module level (see test_api_baking.py).
pytestmark = pytest.mark.anyio

SHORT_TTL = 0.3


@pytest.fixture
def issuer_settings(issuer_settings):
    """Every app of this module trusts what it knows of its keys for SHORT_TTL."""

    def build(**overrides: object):
        return issuer_settings(**{"key_revision_ttl_seconds": SHORT_TTL, **overrides})

    return build


@contextlib.contextmanager
def statements_of(app) -> Iterator[list[str]]:
    """The SQL the app's sessions send while the block runs."""
    seen: list[str] = []

    def note(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def _issue(client, headers, assessment, proof_format: str, **overrides: Any) -> dict[str, Any]:
    body = assessment(proof_format=proof_format, **overrides)
    response = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def _verify(client, shown: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/verify", json=shown)
    assert response.status_code == 200, response.text
    return response.json()


def _signature(result: dict[str, Any]) -> dict[str, Any]:
    return next(check for check in result["checks"] if check["check"] == "signature")


async def _revision(app) -> int:
    async with app.state.database.sessions() as session:
        return await session.scalar(select(IssuerKeyRevision.revision))


@pytest.mark.parametrize("proof_format", ["vc-jwt", "data-integrity"])
async def test_a_second_verification_reads_no_key_from_the_database(
    client, issuer_app, headers, assessment, proof_format
):
    issued = await _issue(client, headers, assessment, proof_format)
    shown = {"jwt": issued["jwt"]} if proof_format == "vc-jwt" else issued["credential"]
    assert (await _verify(client, shown))["verified"] is True
    with statements_of(issuer_app) as seen:
        again = await _verify(client, shown)
    assert again["verified"] is True, again["failures"]
    assert not [statement for statement in seen if "issuer_keys" in statement], seen


async def test_a_key_compromised_through_this_replica_stops_verifying_at_once(
    client, issuer_app, headers, assessment, issuer
):
    issuer_app.state.own_key_cache.revision_ttl_seconds = 60.0  # only a local forget can explain a change
    issued = await _issue(client, headers, assessment, "vc-jwt")
    assert (await _verify(client, {"jwt": issued["jwt"]}))["verified"] is True
    keys = (await client.get(f"/v1/issuers/{issuer['id']}", headers=headers)).json()["keys"]
    [signer] = [key for key in keys if key["key_type"] == "Ed25519" and key["status"] == "active"]
    revoked = await client.post(
        f"/v1/issuers/{issuer['id']}/keys/{signer['id']}/revoke",
        json={"reason": "laptop stolen"},
        headers=headers,
    )
    assert revoked.status_code == 200, revoked.text
    after = await _verify(client, {"jwt": issued["jwt"]})
    assert after["verified"] is False and _signature(after)["code"] == "key_compromised", after["checks"]


async def test_a_key_compromised_through_another_replica_stops_verifying_within_the_ttl(
    client, issuer_app, headers, assessment
):
    issued = await _issue(client, headers, assessment, "data-integrity")
    assert (await _verify(client, issued["credential"]))["verified"] is True
    before = await _revision(issuer_app)
    # Another replica (or an operator's SQL): a Core statement this process's sessions never see.
    async with issuer_app.state.database.engine.begin() as connection:
        kid = issued["credential"]["proof"][0]["verificationMethod"]
        await connection.execute(update(IssuerKey).where(IssuerKey.kid == kid).values(status="compromised"))
    assert await _revision(issuer_app) > before  # the trigger moved it
    await asyncio.sleep(SHORT_TTL + 0.05)
    after = await _verify(client, issued["credential"])
    assert after["verified"] is False and _signature(after)["code"] == "key_compromised", after["checks"]


async def test_a_rotation_keeps_old_credentials_verifying_and_new_ones_verify_at_once(
    client, issuer_app, headers, assessment, issuer
):
    old = await _issue(client, headers, assessment, "vc-jwt")
    assert (await _verify(client, {"jwt": old["jwt"]}))["verified"] is True
    rotated = await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new = await _issue(client, headers, assessment, "vc-jwt", learner={"hris_id": "E-2002"})
    for shown in (old, new):
        result = await _verify(client, {"jwt": shown["jwt"]})
        assert result["verified"] is True, result["failures"]


async def test_a_reference_that_is_not_ours_is_remembered_as_not_ours_until_a_key_changes(
    client, issuer_app, headers, issuer, sample_credential
):
    """A did:key we do not hold: looked up once, then answered offline without asking the database."""
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"  # the did:key spec's example
    shown = {"jwt": _badly_signed_jwt(f"{did}#{did.removeprefix('did:key:')}", {**sample_credential, "issuer": did})}

    async def key_lookups() -> list[str]:
        with statements_of(issuer_app) as seen:
            result = await _verify(client, shown)
        assert _signature(result)["code"] == "invalid_signature", result["checks"]  # the key was found
        return [statement for statement in seen if "issuer_keys" in statement]

    assert await key_lookups()
    assert not await key_lookups()
    rotated = await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate", headers=headers)
    assert rotated.status_code == 200, rotated.text
    assert await key_lookups()  # a key changed here: what was remembered is not trusted


def _badly_signed_jwt(kid: str, payload: dict[str, Any]) -> str:
    """A compact VC-JWT naming `kid` whose signature cannot verify: enough for the key to be looked up."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'EdDSA', 'typ': 'vc+jwt', 'kid': kid})}.{part(payload)}.{'A' * 86}"


@pytest.mark.parametrize("change", ["insert", "update", "delete"])
async def test_every_change_to_issuer_keys_moves_the_revision(issuer_app, issuer, change):
    before = await _revision(issuer_app)
    async with issuer_app.state.database.engine.begin() as connection:
        mine = select(IssuerKey).where(IssuerKey.issuer_id == uuid.UUID(issuer["id"])).limit(1)
        row = (await connection.execute(mine)).mappings().one()
        if change == "insert":
            values = {**row, "id": uuid.uuid4(), "kid": f"{row['kid']}-copy", "status": "retired"}
            await connection.execute(IssuerKey.__table__.insert().values(**values))
        elif change == "update":
            statement = text("UPDATE issuer_keys SET revocation_reason = 'noted' WHERE kid = :kid")
            await connection.execute(statement, {"kid": row["kid"]})
        else:
            await connection.execute(delete(IssuerKey).where(IssuerKey.kid == row["kid"]))
    assert await _revision(issuer_app) == before + 1
