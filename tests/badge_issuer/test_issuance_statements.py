"""An issuance costs a fixed, small number of statements: its rows go in one prebuilt statement, the
issuer and its keys come in one read, and the pathway check reads one row per achievement that matters
however many credentials the learner already holds."""

import uuid

from sqlalchemy import event, func, select

from services.badge_issuer.db.tables import AssessmentResult, AuditEvent, Credential, Issuer, OutboxEvent
from services.badge_issuer.domain import capstones
from shared.schemas.issuer import CredentialOut, IssuanceOut
from tests.badge_issuer.conftest import idempotent


def _statements(issuer_app) -> list[str]:
    seen: list[str] = []
    engine = issuer_app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


async def test_an_issuance_writes_its_rows_in_one_statement(client, headers, assessment, issuer_app):
    body = assessment(proof_format="vc-jwt")
    warm = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers, "warm"))
    assert warm.status_code == 201, warm.text
    seen = _statements(issuer_app)
    issued = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers, "measured"))
    assert issued.status_code == 201, issued.text
    inserts = [statement for statement in seen if "INSERT INTO" in statement]
    reads = [statement for statement in seen if statement.lstrip().startswith("SELECT")]
    if issuer_app.state.database.engine.dialect.name == "postgresql":
        # The issuer with its keys, and the learner's pathway achievements (this badge is a pathway step);
        # SQLite also claims the status index and reads the subscriptions in the transaction.
        assert len(reads) == 2, reads
        # result, credential, audit, event and deliveries in one; the idempotency record in another.
        assert len(inserts) == 2, inserts
    credential_id = uuid.UUID(issued.json()["credential"]["id"])
    async with issuer_app.state.database.sessions() as session:
        credential = await session.get(Credential, credential_id)
        assert credential is not None and credential.assessment_result_id is not None
        result = await session.get(AssessmentResult, credential.assessment_result_id)
        assert result is not None and result.outcome == "issued" and result.evidence["urls"]
        audited = await session.scalar(select(func.count()).where(AuditEvent.subject_id == str(credential_id)))
        events = await session.scalars(select(OutboxEvent).where(OutboxEvent.type == "credential.issued"))
        announced = [e for e in events if e.payload["data"]["credential_id"] == str(credential_id)]
    assert audited == 1 and len(announced) == 1
    assert credential.document == issued.json()["credential"]["credential"]


async def test_held_achievements_reads_each_achievement_once_and_only_those_asked(
    client, headers, assessment, issuer_app
):
    body = assessment(proof_format="vc-jwt")
    for number in range(3):
        issued = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers, f"k{number}"))
        assert issued.status_code == 201, issued.text
    held_badge = uuid.UUID(body["achievement_id"])
    other = uuid.uuid4()
    async with issuer_app.state.database.sessions() as session:
        org_id = await session.scalar(select(Issuer.org_id).where(Issuer.id == uuid.UUID(body["issuer_id"])))
        seen = _statements(issuer_app)
        held = await capstones.held_achievements(session, org_id, "hris:E-1001", among={held_badge, other})
        rows = await session.execute(
            select(Credential.achievement_id).where(
                Credential.org_id == org_id, Credential.learner_key == "hris:E-1001"
            )
        )
        assert len(rows.all()) == 3
        assert held == {held_badge}
        assert await capstones.held_achievements(session, org_id, "hris:E-1001", among={other}) == set()
    assert "DISTINCT" in seen[0]


async def test_an_issuance_answers_its_response_model_exactly(client, headers, assessment, demo):
    """The body is built as JSON without dumping the documents again: it must still be what the route's
    response model (IssuanceOut) gives, field for field, capstones included."""
    first = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers, "m-1"))
    body = assessment(achievement_id=str(demo["badge:Conflict navigation"]), proof_format="vc-jwt")
    second = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers, "m-2"))
    for issued in (first, second):
        assert issued.status_code == 201, issued.text
        answer = issued.json()
        assert IssuanceOut.model_validate(answer).model_dump(mode="json") == answer
        assert list(answer) == list(IssuanceOut.model_fields)
        assert list(answer["credential"]) == list(CredentialOut.model_fields)
    assert len(second.json()["capstones"]) == 1
    listed = await client.get("/v1/credentials", headers=headers)
    for item in listed.json()["items"]:
        assert CredentialOut.model_validate(item).model_dump(mode="json") == item
