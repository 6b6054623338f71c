"""Status that stays true without webhooks: the sweep reads the status lists the counted credentials
point at (our issuer's, served by the real issuer app in process; a partner academy's, served by
`remote_web`), keeps copies under their ETags, and the gap and the organisation report follow. A
credential with no list the sweep reads is re-verified through the issuer's verifier.

Demo: Project Manager needs Active listening 2 (must); the "Active listening" badge certifies level 1 of it.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.badge_issuer.proofs import data_integrity, keys
from services.gap_engine.domain import status_sweep
from services.gap_engine.domain.issuer_client import IssuerVerifier
from shared.bitstring_status_list import Bitstring, build_status_list_credential, build_status_list_entry
from shared.db import utcnow
from shared.safe_fetch import SafeFetcher
from tests.gap_engine.test_alignment_mapping import ESCO_ALIGNMENT, PartnerAcademy
from tests.gap_engine.test_credentials import _listening, _post, _trust

# Marked at collection so anyio's plugin sees the parametrized coroutine tests (as test_api_baking.py).
pytestmark = pytest.mark.anyio

POLICY = status_sweep.SweepPolicy(
    recheck=timedelta(seconds=5), grace=timedelta(seconds=60), lease=timedelta(seconds=30)
)


@pytest.fixture
async def ada(client, headers, roles) -> str:
    """Ada (E-5001, ada@example.com), aiming at Project Manager."""
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    body = {"name": "Ada", "email": "ada@example.com", "target_role_id": role_id}
    assert (await client.put("/v1/employees/E-5001", json=body, headers=headers)).status_code == 201
    return "E-5001"


@pytest.fixture
async def counted(client, issuer_client, headers, roles, issuer, demo, ada) -> dict:
    """Ada holding a counted listening badge of our issuer; returns the issuer's credential record."""
    role_id = str(roles["Project Manager"])
    await _trust(client, headers, issuer["did"])
    response = await issuer_client.post(
        "/v1/assessment-results",
        json={
            "learner": {"hris_id": "E-5001"},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer["id"],
            "score": 90,
            "completed_at": "2026-05-08T09:30:00Z",
        },
        headers={**headers, "Idempotency-Key": "sweep-" + role_id},
    )
    assert response.status_code == 201, response.text
    record = response.json()["credential"]
    received = await _post(client, headers, "E-5001", record["credential"])
    assert received["status"] == "verified"
    return record


NO_FETCHER = object()


async def _sweep(
    gap_app, *, now, verifier=None, fetcher=None, holder="test-sweeper", org_id=None, stop=None
) -> status_sweep.SweepOutcome:
    """One round as the sweeper runs it; `fetcher=NO_FETCHER`: every credential on the verifier path."""
    state = gap_app.state
    return await status_sweep.sweep_once(
        state.database.sessions,
        verifier or state.verifier,
        state.service_tokens,
        state.secret_box,
        POLICY,
        holder=holder,
        fetcher=None if fetcher is NO_FETCHER else fetcher or state.status_fetcher,
        now=now,
        org_id=org_id,
        stop=stop,
    )


async def test_a_sweep_told_to_stop_asks_the_verifier_nothing_more_and_leaves_the_credential_due(gap_app, counted, org):
    """A replica shutting down ends its round after the credential in hand, not after 200 more."""
    later = utcnow() + POLICY.recheck + timedelta(seconds=1)
    stop = asyncio.Event()
    stop.set()
    stopped = await _sweep(gap_app, now=later, fetcher=NO_FETCHER, org_id=org, stop=stop)
    assert stopped.leased and stopped.verifier_checked == 0
    going = await _sweep(gap_app, now=later, fetcher=NO_FETCHER, org_id=org)
    assert going.verifier_checked == 1  # still due: the stopped round did not mark it checked


def _refusing() -> httpx.MockTransport:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    return httpx.MockTransport(refuse)


async def _statuses(client, headers) -> list[tuple[str, str | None]]:
    items = (await client.get("/v1/employees/E-5001/credentials", headers=headers)).json()["items"]
    return [(item["status"], item["check_outcome"]) for item in items]


async def _mean_readiness(client, headers) -> float | None:
    report = (await client.get("/v1/reports/organisation", params={"basis": "target"}, headers=headers)).json()
    return report["mean_readiness"]


async def test_a_revocation_without_a_webhook_stops_counting_within_one_interval(
    client, issuer_client, gap_app, headers, counted, demo, org
):
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1
    counting_readiness = await _mean_readiness(client, headers)
    revoked = await issuer_client.post(
        f"/v1/credentials/{counted['id']}/revoke", json={"reason": "assessment voided"}, headers=headers
    )
    assert revoked.status_code == 200, revoked.text
    # No webhook: until the next check it still counts; one interval later it does not.
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1
    outcome = await _sweep(gap_app, now=utcnow() + POLICY.recheck + timedelta(seconds=1), org_id=org)
    assert outcome.leased and outcome.rejected == 1
    assert outcome.lists_asked == 1 and outcome.verifier_checked == 0  # read from the list, not re-verified
    [(status, check)] = await _statuses(client, headers)
    assert status == "rejected" and "revocation: revoked by its issuer" in check
    assert counted["status"]["status_list_url"] in check
    assert (await _listening(client, headers, "E-5001", demo))[0] is None
    assert (await _mean_readiness(client, headers)) < counting_readiness


@pytest.mark.parametrize("unreachable", ["status list", "verifier"])
async def test_what_cannot_be_asked_counts_until_the_grace_period_then_status_unknown(
    client, gap_app, headers, counted, demo, org, unreachable
):
    """The list (its host down), or, for a credential on the verifier path, the verifier."""
    down = IssuerVerifier(httpx.AsyncClient(base_url="https://issuer.credstack.test", transport=_refusing()))
    down_fetcher = SafeFetcher(gap_app.state.status_fetcher.policy, transport=_refusing())
    if unreachable == "status list":
        failing = {"fetcher": down_fetcher}
        working = {}
    else:
        failing = {"fetcher": NO_FETCHER, "verifier": down}
        working = {"fetcher": NO_FETCHER}
    start = utcnow() + POLICY.recheck + timedelta(seconds=1)
    await _sweep(gap_app, now=start, org_id=org, **failing)
    [(status, check)] = await _statuses(client, headers)
    assert status == "verified" and check.startswith("could not check")
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1

    later = start + POLICY.grace + POLICY.recheck
    outcome = await _sweep(gap_app, now=later, org_id=org, **failing)
    assert outcome.status_unknown == 1
    assert [s for s, _ in await _statuses(client, headers)] == ["status_unknown"]
    assert (await _listening(client, headers, "E-5001", demo))[0] is None

    # It answers again: the credential is verified and counts once more.
    await _sweep(gap_app, now=later + POLICY.recheck + timedelta(seconds=1), org_id=org, **working)
    [(status, check)] = await _statuses(client, headers)
    assert status == "verified" and check in ("verified", f"not revoked ({counted['status']['status_list_url']})")
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1
    await down.http.aclose()
    await down_fetcher.aclose()


async def test_an_unchanged_list_is_asked_once_a_round_and_answers_304(gap_app, issuer_client, headers, counted, org):
    routes = gap_app.state.status_list_routes
    list_url = counted["status"]["status_list_url"]
    start = utcnow() + POLICY.recheck + timedelta(seconds=1)
    first = await _sweep(gap_app, now=start, org_id=org)
    assert (first.lists_asked, first.lists_changed, first.verifier_calls) == (1, 1, 1)
    not_due = await _sweep(gap_app, now=start + timedelta(seconds=1), org_id=org)
    assert not_due.lists_asked == 0 and not_due.checked == 0
    second = await _sweep(gap_app, now=start + POLICY.recheck + timedelta(seconds=1), org_id=org)
    outcomes = (second.lists_asked, second.lists_unchanged, second.verifier_calls, second.still_valid)
    assert outcomes == (1, 1, 0, 1), (routes.exchanges, routes.etags)
    [(url_1, sent_1, answer_1), (url_2, sent_2, answer_2)] = routes.exchanges
    assert url_1 == url_2 == list_url and (sent_1, answer_1) == (None, 200)
    assert sent_2 is not None and answer_2 == 304  # the ETag kept from the first answer


class PartnerLists:
    """The partner academy's status lists on its own host: a Bitstring list it signs, and a 1EdTech
    revocation list (at URLs of their own: list copies are kept across organisations, and tests)."""

    def __init__(self, remote_web, partner: PartnerAcademy) -> None:
        self.web, self.partner = remote_web, partner
        path = uuid.uuid4().hex
        self.BITSTRING = f"https://lists.partner.example/{path}/status/1"
        self.REVOCATIONS = f"https://lists.partner.example/{path}/revocations"

    def entry(self, kind: str) -> dict:
        if kind == "bitstring":
            return build_status_list_entry(list_url=self.BITSTRING, index=77, status_purpose="revocation")
        return {"id": self.REVOCATIONS, "type": "1EdTechRevocationList"}

    def publish(self, kind: str, *, revoked: str | None = None, signer: PartnerAcademy | None = None) -> None:
        """The list with the credential `revoked` (its id) or not; a Bitstring list signed by `signer`
        (the partner by default) and naming the signer as its issuer."""
        signer = signer or self.partner
        if kind == "1edtech":
            listed = [{"id": revoked, "revocationReason": "assessment voided"}] if revoked else []
            body = {"id": self.REVOCATIONS, "issuer": signer.did, "revokedCredentials": listed}
            self.web.serve(self.REVOCATIONS, body)
            return
        bits = Bitstring()
        if revoked:
            bits.set(77)
        unsigned = build_status_list_credential(
            list_url=self.BITSTRING,
            issuer=signer.did,
            status_purpose="revocation",
            encoded_list=bits.encode(),
            valid_from=datetime.now(UTC) - timedelta(days=1),
        )
        signed = data_integrity.sign(unsigned, signer.key, keys.did_key_verification_method(signer.did))
        self.web.serve(self.BITSTRING, signed, content_type="application/vc+ld+json")


@pytest.fixture
async def partner_badge(client, headers, ada, remote_web, request) -> tuple[PartnerLists, dict, str]:
    """Ada holding a counted partner-academy badge whose status is on the partner's list of kind
    `request.param`; returns the lists, the credential and the kind."""
    partner = PartnerAcademy()
    lists = PartnerLists(remote_web, partner)
    kind = request.param
    lists.publish(kind)
    credential = partner.credential([ESCO_ALIGNMENT], status=lists.entry(kind))
    await _trust(client, headers, partner.did)
    received = await _post(client, headers, ada, credential)
    assert received["status"] == "verified", received
    return lists, credential, kind


@pytest.mark.parametrize("partner_badge", ["bitstring", "1edtech"], indirect=True)
async def test_a_third_party_revocation_on_its_own_list_stops_counting(
    client, gap_app, headers, partner_badge, demo, org
):
    lists, credential, kind = partner_badge
    start = utcnow() + POLICY.recheck + timedelta(seconds=1)
    assert (await _sweep(gap_app, now=start, org_id=org)).still_valid == 1
    assert (await _listening(client, headers, "E-5001", demo))[0] is not None
    counting_readiness = await _mean_readiness(client, headers)
    lists.publish(kind, revoked=credential["id"])
    outcome = await _sweep(gap_app, now=start + POLICY.recheck + timedelta(seconds=1), org_id=org)
    assert outcome.rejected == 1 and outcome.lists_changed == 1
    [(status, check)] = await _statuses(client, headers)
    assert status == "rejected" and "revoked by its issuer" in check
    assert (await _listening(client, headers, "E-5001", demo))[0] is None
    assert (await _mean_readiness(client, headers)) < counting_readiness


@pytest.mark.parametrize("partner_badge", ["bitstring", "1edtech"], indirect=True)
async def test_a_list_that_is_not_the_credential_issuers_is_not_believed(
    client, gap_app, headers, partner_badge, demo, org
):
    """Someone else's list at the credential's list URL marks it revoked: not believed either way; the
    credential counts on (it was not shown revoked) until the grace period, then is status_unknown."""
    lists, credential, kind = partner_badge
    lists.publish(kind, revoked=credential["id"], signer=PartnerAcademy())
    start = utcnow() + POLICY.recheck + timedelta(seconds=1)
    outcome = await _sweep(gap_app, now=start, org_id=org)
    assert outcome.rejected == 0 and outcome.unreachable == 1
    [(status, check)] = await _statuses(client, headers)
    assert status == "verified" and "not believed" in check
    assert (await _listening(client, headers, "E-5001", demo))[0] is not None
    later = start + POLICY.grace + POLICY.recheck
    assert (await _sweep(gap_app, now=later, org_id=org)).status_unknown == 1
    assert (await _listening(client, headers, "E-5001", demo))[0] is None


@pytest.mark.parametrize("partner_badge", ["bitstring"], indirect=True)
async def test_a_forged_list_naming_the_issuer_is_not_believed(client, gap_app, headers, partner_badge, org):
    """Signed by a stranger's key but claiming the partner as issuer: its proof is not the partner's."""
    lists, credential, _ = partner_badge
    stranger = PartnerAcademy()
    bits = Bitstring()
    bits.set(77)
    unsigned = build_status_list_credential(
        list_url=lists.BITSTRING,
        issuer=lists.partner.did,
        status_purpose="revocation",
        encoded_list=bits.encode(),
        valid_from=datetime.now(UTC) - timedelta(days=1),
    )
    forged = data_integrity.sign(unsigned, stranger.key, keys.did_key_verification_method(stranger.did))
    lists.web.serve(lists.BITSTRING, forged, content_type="application/vc+ld+json")
    outcome = await _sweep(gap_app, now=utcnow() + POLICY.recheck + timedelta(seconds=1), org_id=org)
    assert outcome.rejected == 0
    [(status, check)] = await _statuses(client, headers)
    assert status == "verified" and "is not believed" in check


async def test_a_validity_window_that_ends_stops_counting_by_itself(
    client, gap_app, headers, ada, remote_web, demo, org
):
    partner = PartnerAcademy()
    lists = PartnerLists(remote_web, partner)
    lists.publish("1edtech")
    until = utcnow() + timedelta(days=2)
    credential = partner.credential([ESCO_ALIGNMENT], status=lists.entry("1edtech"))
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    unsigned["validUntil"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    credential = data_integrity.sign(unsigned, partner.key, keys.did_key_verification_method(partner.did))
    await _trust(client, headers, partner.did)
    assert (await _post(client, headers, ada, credential))["status"] == "verified"
    assert (await _listening(client, headers, ada, demo))[0] is not None
    # The gap is read now; past validUntil the fact no longer counts, sweep or not.
    outcome = await _sweep(gap_app, now=until + timedelta(seconds=1), org_id=org)
    assert outcome.rejected == 1
    [(status, check)] = await _statuses(client, headers)
    assert status == "rejected" and "expired" in check


async def test_one_replica_sweeps_at_a_time(gap_app, org):
    now = utcnow() + timedelta(days=30)  # beyond any lease another test left
    first = await _sweep(gap_app, now=now, holder="replica-a", org_id=org)
    second = await _sweep(gap_app, now=now + timedelta(seconds=1), holder="replica-b", org_id=org)
    assert first.leased and not second.leased
    after_expiry = await _sweep(gap_app, now=now + POLICY.lease + timedelta(seconds=1), holder="replica-b", org_id=org)
    assert after_expiry.leased
    await status_sweep.release_lease(gap_app.state.database.sessions, "replica-b")
    assert (await _sweep(gap_app, now=now + timedelta(seconds=2), holder="replica-c", org_id=org)).leased
    await status_sweep.release_lease(gap_app.state.database.sessions, "replica-c")


async def test_two_sweepers_at_once_do_not_both_work(gap_app, counted, org):
    now = utcnow() + timedelta(days=60)
    first, second = await asyncio.gather(
        _sweep(gap_app, now=now, holder="replica-x", org_id=org),
        _sweep(gap_app, now=now, holder="replica-y", org_id=org),
    )
    assert sorted([first.leased, second.leased]) == [False, True]
    assert first.checked + second.checked == 1 and first.lists_asked + second.lists_asked == 1
    for holder in ("replica-x", "replica-y"):
        await status_sweep.release_lease(gap_app.state.database.sessions, holder)
