"""Process faults under bounded load, on real processes (tests/cluster.py): kill -9 of the issuer and of
the gap engine, and a PostgreSQL restart. What must hold (DESIGN.md §5): a 2xx is durable, a retried
result is one credential, the outbox delivers every event after a restart and the receiver takes each
in once, and a database going away is a 503 with Retry-After and a recovery without a restart.

The load is what a learning platform does: 16 clients, each assessment result posted with its own
Idempotency-Key, retried with the same key on a 503 or a connection error (at most once a second).
Everything runs on loopback; one replica per service, no balancer, so a killed process takes every
in-flight request with it (no other replica hides the fault).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.cluster import CLIENT_KEEPALIVE_SECONDS, Cluster, cluster

pytestmark = pytest.mark.cluster

CLIENTS = 16
RESULTS = 300
PG_RESULTS = 150
WEBHOOKS_BEFORE_GAP_KILL = 10
DELIVERY_BOUND_SECONDS = 90.0  # the outbox backs off 2**attempts s after failures while a receiver is down
RECOVERY_BOUND_SECONDS = 30.0


@pytest.fixture(scope="module")
def platform() -> Iterator[Cluster]:
    with cluster(replicas=1, balancer=False) as running:
        yield running


@dataclass
class Tenant:
    """An organisation with an issuer whose credential.issued events go to the gap engine."""

    org: uuid.UUID
    headers: dict[str, str]
    issuer_id: str
    achievement_id: str
    source_id: str


def _set_up_tenant(platform: Cluster, name: str) -> Tenant:
    org, demo = platform.seed_organisation(f"{name}-{uuid.uuid4().hex[:8]}")
    headers = platform.bearer(org)
    issuer_url, gap_url = platform.url("badge_issuer"), platform.url("gap_engine")
    issuer = httpx.post(
        f"{issuer_url}/v1/issuers",
        json={"name": "Fault Academy", "url": "https://academy.credstack.example", "default_proof_format": "vc-jwt"},
        headers=headers,
        timeout=30,
    )
    assert issuer.status_code == 201, issuer.text
    source_id = str(uuid.uuid4())
    subscription = httpx.post(
        f"{issuer_url}/v1/webhook-subscriptions",
        json={"url": f"{gap_url}/v1/webhooks/issuer/{source_id}", "event_types": ["credential.issued"]},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert subscription.status_code == 201, subscription.text
    source = httpx.post(
        f"{gap_url}/v1/webhook-sources",
        json={"id": source_id, "name": "fault academy", "secret": subscription.json()["secret"]},
        headers=headers,
        timeout=30,
    )
    assert source.status_code == 201, source.text
    return Tenant(org, headers, issuer.json()["id"], str(demo["badge:Active listening"]), source_id)


# --- the load -----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Every answer the clients got, and every attempt that got none."""

    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)  # 5xx other than a 503 with Retry-After
    acknowledged: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> credential id
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def acknowledge(self, key: str, credential_id: str) -> None:
        async with self._changed:
            self.acknowledged[key] = credential_id
            self._changed.notify_all()

    async def wait_for_acknowledged(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.acknowledged) >= count)

    def record(self, response: httpx.Response, what: str) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            has_retry_after = response.headers.get("retry-after", "").isdigit()
            problem = response.headers.get("content-type", "").startswith("application/problem+json")
            if response.status_code != 503 or not has_retry_after or not problem:
                self.unexpected.append(f"{what}: {response.status_code} {response.headers} {response.text[:300]}")


def _result(tenant: Tenant, learner: str) -> dict[str, Any]:
    return {
        "learner": {"hris_id": learner, "email": f"{learner.lower()}@example.com"},
        "achievement_id": tenant.achievement_id,
        "issuer_id": tenant.issuer_id,
        "score": 91,
        "assessor": "Fault suite",
        "completed_at": datetime.now(UTC).isoformat(),
    }


async def _post_results(
    issuer_url: str, tenant: Tenant, learners: list[str], tally: Tally, *, deadline_seconds: float = 150.0
) -> None:
    """Post one result per learner from CLIENTS clients; each retried with its key until a 2xx."""
    pending = [(uuid.uuid4().hex, _result(tenant, learner)) for learner in learners]
    deadline = time.monotonic() + deadline_seconds
    limits = httpx.Limits(
        max_connections=CLIENTS, max_keepalive_connections=CLIENTS, keepalive_expiry=CLIENT_KEEPALIVE_SECONDS
    )
    async with httpx.AsyncClient(base_url=issuer_url, timeout=15, limits=limits) as http:

        async def client() -> None:
            while pending:
                key, body = pending.pop()
                while time.monotonic() < deadline:
                    try:
                        response = await http.post(
                            "/v1/assessment-results", json=body, headers={**tenant.headers, "Idempotency-Key": key}
                        )
                    except httpx.TransportError as error:
                        tally.no_answer[type(error).__name__] += 1
                        await asyncio.sleep(0.3)
                        continue
                    tally.record(response, f"POST {key}")
                    if response.status_code in (200, 201):
                        await tally.acknowledge(key, response.json()["credential"]["id"])
                        break
                    if response.status_code not in (429, 503):
                        tally.unexpected.append(f"POST {key}: {response.status_code} {response.text[:300]}")
                        break
                    await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))

        await asyncio.gather(*(client() for _ in range(CLIENTS)))


def _issued(platform: Cluster, tenant: Tenant) -> list[str]:
    rows = platform.sql(
        "badge_issuer",
        "SELECT id::text AS id, assessment_result_id FROM credentials WHERE org_id = $1",
        tenant.org,
    )
    assert len({row["assessment_result_id"] for row in rows}) == len(rows), "two credentials for one result"
    return [row["id"] for row in rows]


def _held(platform: Cluster, tenant: Tenant) -> list[str]:
    rows = platform.sql("gap_engine", "SELECT credential_id FROM received_credentials WHERE org_id = $1", tenant.org)
    return [str(row["credential_id"]).removeprefix("urn:uuid:") for row in rows]


def _wait_for_holdings(platform: Cluster, tenant: Tenant, issued: list[str]) -> list[str]:
    """The gap engine's holdings once they equal the issuer's, or what they were when the bound ran out."""
    started = time.monotonic()
    deadline = started + DELIVERY_BOUND_SECONDS
    held = _held(platform, tenant)
    while sorted(set(held)) != sorted(issued) and time.monotonic() < deadline:
        time.sleep(0.5)
        held = _held(platform, tenant)
    print(f"holdings equal after {time.monotonic() - started:.1f} s more")
    return held


def _assert_every_acknowledged_result_is_one_credential(
    platform: Cluster, tenant: Tenant, tally: Tally, results: int = RESULTS
) -> list[str]:
    assert tally.unexpected == [], tally.unexpected[:5]
    assert len(tally.acknowledged) == results, (len(tally.acknowledged), tally.statuses, tally.no_answer)
    issued = _issued(platform, tenant)
    assert len(issued) == results, f"{len(issued)} credentials for {results} results"
    assert sorted(issued) == sorted(tally.acknowledged.values()), "an acknowledged credential is not the stored one"
    return sorted(issued)


def _assert_each_event_taken_in_once(platform: Cluster, tenant: Tenant, issued: list[str]) -> None:
    held = _wait_for_holdings(platform, tenant, issued)
    assert len(held) == len(set(held)), f"{len(held) - len(set(held))} credentials taken in twice"
    assert sorted(held) == issued, f"the gap engine holds {len(set(held))} of {len(issued)} credentials"
    [row] = platform.sql(
        "gap_engine",
        "SELECT count(*) AS taken, count(DISTINCT message_id) AS distinct_ids FROM received_webhooks"
        " WHERE source_id = $1",
        uuid.UUID(tenant.source_id),
    )
    assert row["taken"] == row["distinct_ids"] == len(issued), dict(row)


# --- the faults ---------------------------------------------------------------------------------------


def test_kill_9_of_the_issuer_then_of_the_gap_engine_under_load_loses_nothing_and_takes_each_event_in_once(platform):
    """One load, two faults: the issuer is killed a third of the way in (requests cut off mid-flight,
    clients retry with their keys), the gap engine two thirds in (webhooks cut off mid-delivery, the
    outbox retries them). Afterwards: one credential per acknowledged result, and the gap engine holds
    exactly the issuer's credentials, each taken in once."""
    tenant = _set_up_tenant(platform, "kill")
    issuer, gap = platform.replicas["badge_issuer"][0], platform.replicas["gap_engine"][0]
    tally = Tally()
    taken_before_gap_kill: list[int] = []

    async def run() -> None:
        async def kill_midway() -> None:
            await tally.wait_for_acknowledged(RESULTS // 3)
            await asyncio.to_thread(issuer.kill)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(issuer.start)
            await tally.wait_for_acknowledged(2 * RESULTS // 3)
            for _ in range(100):  # and webhooks are arriving (the outbox runs behind the issuance)
                taken = len(await asyncio.to_thread(_held, platform, tenant))
                if taken >= WEBHOOKS_BEFORE_GAP_KILL:
                    break
                await asyncio.sleep(0.1)
            taken_before_gap_kill.append(taken)
            await asyncio.to_thread(gap.kill)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(gap.start)

        learners = [f"K-{index}" for index in range(RESULTS)]
        await asyncio.gather(_post_results(platform.url("badge_issuer"), tenant, learners, tally), kill_midway())

    started = time.monotonic()
    asyncio.run(run())
    print(
        f"kill -9 load took {time.monotonic() - started:.1f} s: answers {dict(tally.statuses)}, "
        f"no answer {dict(tally.no_answer)}; {taken_before_gap_kill} events taken in before the gap engine's kill"
    )
    assert sum(tally.no_answer.values()) > 0, "the issuer's kill cut no request off: it proves nothing"
    assert taken_before_gap_kill[0] > 0, "no webhook had arrived before the gap engine's kill"
    issued = _assert_every_acknowledged_result_is_one_credential(platform, tenant, tally)
    _assert_each_event_taken_in_once(platform, tenant, issued)


def _read(http: httpx.AsyncClient, tally: Tally, url: str, headers: dict[str, str]):
    async def once() -> None:
        try:
            response = await http.get(url, headers=headers)
        except httpx.TransportError as error:
            tally.no_answer[f"GET {type(error).__name__}"] += 1
            return
        tally.record(response, f"GET {url}")

    return once


def test_a_postgresql_restart_under_load_is_503s_with_retry_after_and_the_services_recover_by_themselves(platform):
    tenant = _set_up_tenant(platform, "pg-restart")
    tally, reads = Tally(), Tally()
    reads_of = {
        "taxonomy_api": "/v1/skills",
        "badge_issuer": f"/v1/issuers/{tenant.issuer_id}",
        "gap_engine": "/v1/employees",
    }

    async def run() -> None:
        stop = asyncio.Event()

        async def read_load() -> None:
            async with httpx.AsyncClient(
                timeout=15, limits=httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_SECONDS)
            ) as http:
                calls = [
                    _read(http, reads, f"{platform.url(service)}{path}", tenant.headers)
                    for service, path in reads_of.items()
                ]
                while not stop.is_set():
                    await asyncio.gather(*(call() for call in calls))
                    await asyncio.sleep(0.02)

        async def restart_midway() -> None:
            await tally.wait_for_acknowledged(PG_RESULTS // 3)
            await asyncio.to_thread(platform.postgres.restart)

        learners = [f"P-{index}" for index in range(PG_RESULTS)]
        reader = asyncio.create_task(read_load())
        try:
            await asyncio.gather(_post_results(platform.url("badge_issuer"), tenant, learners, tally), restart_midway())
        finally:
            stop.set()
            await reader

    asyncio.run(run())
    print(
        f"PostgreSQL restart: issuance answers {dict(tally.statuses)}, no answer {dict(tally.no_answer)}; "
        f"reads {dict(reads.statuses)}, no answer {dict(reads.no_answer)}"
    )
    assert tally.statuses[503] + reads.statuses[503] > 0, "the restart was not seen: it proves nothing"
    assert reads.unexpected == [], reads.unexpected[:5]
    assert sum(tally.no_answer.values()) + sum(reads.no_answer.values()) == 0, "a request got no answer"
    issued = _assert_every_acknowledged_result_is_one_credential(platform, tenant, tally, PG_RESULTS)
    assert len(issued) == PG_RESULTS
    # The services were never restarted: each is ready again and issues.
    for service in reads_of:
        assert httpx.get(f"{platform.url(service)}/readyz", timeout=5).status_code == 200, service
    after = httpx.post(
        f"{platform.url('badge_issuer')}/v1/assessment-results",
        json=_result(tenant, "P-after"),
        headers={**tenant.headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=15,
    )
    assert after.status_code == 201, after.text
    # The outbox worker outlived the outage too: every event, the last one's included, is taken in once.
    _assert_each_event_taken_in_once(platform, tenant, sorted(_issued(platform, tenant)))
