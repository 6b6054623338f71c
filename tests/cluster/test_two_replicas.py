"""Two replicas of every service on one PostgreSQL behind haproxy (tests/cluster.py), under concurrent load
through the balancer (issue 15, DESIGN.md §2 and §5): what one replica would need from another is in the
database, so two of them issue, count and deliver as one.

One cluster and one load for the module (the fixture); each test reads one property of the outcome:
no duplicate credential (the same Idempotency-Key posted at once to both replicas) and one capstone per
learner (also when the pathway's two steps arrive at once, one at each replica), status-list indexes
unique (blocks of 8, so the replicas keep reserving new blocks side by side), every credential.issued
event delivered once (the gap engine's holdings are the issuer's credentials), the public rate limit one
budget for both replicas, the gap engine's incremental organisation report equal to a full recompute, and
the outbox and status-recheck workers never doing the same work twice.
"""

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from tests.cluster import CLIENT_KEEPALIVE_SECONDS, Cluster, cluster

pytestmark = pytest.mark.cluster

LEARNERS = 100  # each completes the two-step pathway: 200 results and 100 capstones
TWINS = 25  # learners whose first result is posted four times at once, twice to each replica
AT_ONCE = 25  # learners whose two steps are posted at the same moment, one to each replica
CLIENTS = 32
CLIENT_RETRIES = 2
PUBLIC_LIMIT = 100  # per address and minute, on the issuer
PROBE_ADDRESS = "127.0.0.2"  # a client of its own, so nothing else spends its budget
DELIVERY_SECONDS = 90.0
STEPS = ("badge:Active listening", "badge:Conflict navigation")
WEBHOOK_ROUTE = "/v1/webhooks/issuer/{source_id}"


@dataclass
class Outcome:
    platform: Cluster
    org: uuid.UUID
    headers: dict[str, str]
    answers: dict[str, list[httpx.Response]] = field(default_factory=dict)
    """Per Idempotency-Key, every answer to it."""
    delivery_errors: set[str] = field(default_factory=set)
    """Failed webhook attempts seen while waiting for the outbox to drain (their last_error)."""
    failures: list[str] = field(default_factory=list)
    """Requests of the load that got no answer at all (then retried with their key)."""
    rate_limited: list[httpx.Response] = field(default_factory=list)
    reports_before: dict[str, int] = field(default_factory=dict)
    """Per basis, the stored report's revision before the load."""


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def _set_up(platform: Cluster, outcome: Outcome, demo: dict[str, uuid.UUID]) -> tuple[str, str]:
    """An issuer, its webhook subscription wired to a gap engine source that signs in with an API client,
    employees on teams with a role, and the stored reports computed once (so events apply incrementally)."""
    taxonomy, issuer, gap = (platform.url(s) for s in ("taxonomy_api", "badge_issuer", "gap_engine"))
    async with httpx.AsyncClient(headers=outcome.headers, timeout=30) as http:
        profile = {"name": "Cluster Academy", "url": "https://academy.example", "email": "badges@academy.example"}
        issuer_id = _ok(await http.post(f"{issuer}/v1/issuers", json=profile, headers=_key()), 201)["id"]
        client = {"name": "gap engine", "scopes": ["credentials:read"]}
        api_client = _ok(await http.post(f"{taxonomy}/v1/clients", json=client, headers=_key()), 201)
        source_id = str(uuid.uuid4())
        hook = {"url": f"{gap}/v1/webhooks/issuer/{source_id}"}
        subscription = _ok(await http.post(f"{issuer}/v1/webhook-subscriptions", json=hook, headers=_key()), 201)
        source = {
            "id": source_id,
            "name": "academy",
            "secret": subscription["secret"],
            "client_id": api_client["client_id"],
            "client_secret": api_client["client_secret"],
        }
        _ok(await http.post(f"{gap}/v1/webhook-sources", json=source, headers=_key()), 201)
        roles = _ok(await http.get(f"{taxonomy}/v1/roles"))["items"]
        role_ids = [role["id"] for role in roles]
        for role_id in role_ids:
            _ok(await http.post(f"{gap}/v1/roles/{role_id}/sync"))
        staff = [
            {
                "hris_id": _learner(n),
                "name": f"Person {n}",
                "team": f"T{n % 4}",
                "department": f"D{n % 2}",
                "current_role_id": role_ids[n % len(role_ids)],
                "target_role_id": role_ids[(n + 1) % len(role_ids)],
            }
            for n in range(LEARNERS)
        ]
        _ok(await http.post(f"{gap}/v1/employees/bulk", json={"employees": staff}, headers=_key()))
        for basis in ("current", "target"):
            _ok(await http.get(f"{gap}/v1/reports/organisation", params={"basis": basis}))
    return issuer_id, str(demo[STEPS[0]])


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def _learner(n: int) -> str:
    return f"C-{n:03d}"


async def _probe_rate_limit(platform: Cluster, outcome: Outcome) -> None:
    """PUBLIC_LIMIT + 60 anonymous verifications from one address, through both replicas at once."""
    if time.time() % 60 > 45:  # all in one clock minute, or the budget would be counted twice
        await asyncio.sleep(61 - time.time() % 60)
    url = f"{platform.url('badge_issuer', client=PROBE_ADDRESS)}/v1/verify"
    gate = asyncio.Semaphore(CLIENTS)
    async with httpx.AsyncClient(timeout=30) as http:

        async def verify() -> httpx.Response:
            async with gate:
                return await http.post(url, json={"jwt": "not-a-jwt"})

        outcome.rate_limited = await asyncio.gather(*(verify() for _ in range(PUBLIC_LIMIT + 60)))


async def _load(platform: Cluster, outcome: Outcome, issuer_id: str, demo: dict[str, uuid.UUID]) -> None:
    """Every learner posts both pathway steps in order through the balancer; for TWINS learners the
    first step is also posted with one key twice more to each replica directly, all at once; AT_ONCE
    learners post their two steps at the same moment, one to each replica (the capstone is due once)."""
    gate = asyncio.Semaphore(CLIENTS)
    balanced = platform.url("badge_issuer")
    direct = [platform.direct("badge_issuer", i) for i in range(len(platform.replicas["badge_issuer"]))]
    async with httpx.AsyncClient(
        headers=outcome.headers,
        timeout=60,
        limits=httpx.Limits(max_connections=64, keepalive_expiry=CLIENT_KEEPALIVE_SECONDS),
    ) as http:

        async def post(base: str, body: dict[str, Any], key: str, slots: asyncio.Semaphore = gate) -> None:
            for _ in range(CLIENT_RETRIES + 1):
                async with slots:
                    try:
                        response = await http.post(
                            f"{base}/v1/assessment-results", json=body, headers={"Idempotency-Key": key}
                        )
                    except httpx.TransportError as error:
                        # A kept-alive connection the server closed as it was reused: what the
                        # Idempotency-Key is for. Counted, and retried with the same key.
                        outcome.failures.append(f"{base} {key}: {error!r}")
                        continue
                outcome.answers.setdefault(key, []).append(response)
                return

        def result(n: int, step: str) -> dict[str, Any]:
            return {
                "learner": {"hris_id": _learner(n), "email": f"c{n:03d}@example.com"},
                "achievement_id": str(demo[step]),
                "issuer_id": issuer_id,
                "score": 80 + n % 20,
                "completed_at": "2026-01-15T09:30:00Z",
                "proof_format": "vc-jwt" if n % 2 else "data-integrity",
            }

        async def learner(n: int) -> None:
            keys = [f"{_learner(n)}:{step}" for step in STEPS]
            for step, key in zip(STEPS, keys, strict=True):
                if n < TWINS and step == STEPS[0]:
                    targets = [balanced, *direct, *direct]
                    await asyncio.gather(*(post(base, result(n, step), key) for base in targets))
                else:
                    await post(balanced, result(n, step), key)

        await asyncio.gather(*(learner(n) for n in range(LEARNERS - AT_ONCE)))
        # Then the AT_ONCE learners, all at once: each one's two steps at the same moment, one per replica.
        at_once = asyncio.Semaphore(2 * AT_ONCE)
        await asyncio.gather(
            *(
                post(direct[i], result(n, STEPS[i]), f"{_learner(n)}:{STEPS[i]}", at_once)
                for n in range(LEARNERS - AT_ONCE, LEARNERS)
                for i in range(2)
            )
        )


def _wait(what: str, seconds: float, check) -> None:  # noqa: ANN001 - a predicate
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {seconds:.0f} s"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def outcome() -> Any:
    env = {
        "badge_issuer": {
            "CREDSTACK_ISSUER_STATUS_INDEX_BLOCK_SIZE": "8",
            "CREDSTACK_ISSUER_PUBLIC_RATE_LIMIT_PER_MINUTE": str(PUBLIC_LIMIT),
        },
        "gap_engine": {
            "CREDSTACK_GAP_STATUS_RECHECK_SECONDS": "5",
            "CREDSTACK_GAP_STATUS_SWEEP_POLL_SECONDS": "1",
        },
    }
    with cluster(replicas=2, env=env, client_addresses=(PROBE_ADDRESS,)) as platform:
        org, demo = platform.seed_organisation(f"cluster-{uuid.uuid4().hex[:8]}")
        result = Outcome(platform, org, platform.bearer(org))

        async def run() -> None:
            issuer_id, _ = await _set_up(platform, result, demo)
            states = await platform.fetch(
                "gap_engine", "SELECT basis, revision FROM gap_report_states WHERE org_id = $1", org
            )
            result.reports_before = {row["basis"]: row["revision"] for row in states}
            await _probe_rate_limit(platform, result)
            await _load(platform, result, issuer_id, demo)

        asyncio.run(run())

        def drained() -> bool:
            rows = platform.sql(
                "badge_issuer",
                "SELECT count(*) FILTER (WHERE status <> 'delivered') AS owed, array_agg(DISTINCT last_error) "
                "FILTER (WHERE last_error IS NOT NULL) AS errors FROM webhook_deliveries",
            )
            result.delivery_errors.update(rows[0]["errors"] or [])
            return rows[0]["owed"] == 0

        _wait("every webhook delivered", DELIVERY_SECONDS, drained)
        issued = platform.sql("badge_issuer", "SELECT count(*) FROM credentials")[0][0]
        _wait(
            "the gap engine holding every credential",
            DELIVERY_SECONDS,
            lambda: platform.sql("gap_engine", "SELECT count(*) FROM received_credentials")[0][0] >= issued,
        )
        _wait(
            "a status re-check round",
            30,
            lambda: sum(_rechecks(platform)) >= issued,
        )
        retries = platform.sql("badge_issuer", "SELECT count(*) FROM webhook_deliveries WHERE attempts > 1")[0][0]
        print(  # shown with -s or -rP: what the load met on the way
            f"cluster load: {issued} credentials, {len(result.failures)} requests retried by the client, "
            f"{retries} webhook deliveries retried ({sorted(result.delivery_errors)})"
        )
        yield result


def _rechecks(platform: Cluster) -> list[float]:
    return [
        platform.metric("gap_engine", i, "credstack_background_events_total", event="status_recheck")
        for i in range(len(platform.replicas["gap_engine"]))
    ]


def test_every_answer_is_a_credential_and_twins_share_one(outcome):
    assert len(outcome.failures) <= 3, outcome.failures[:5]  # a lost answer is retried with its key
    statuses = Counter(answer.status_code for answers in outcome.answers.values() for answer in answers)
    assert statuses == {201: 2 * LEARNERS + 4 * TWINS}, statuses
    for key, answers in outcome.answers.items():
        ids = {answer.json()["credential"]["id"] for answer in answers}
        assert len(ids) == 1, f"{key}: {len(answers)} answers, credentials {ids}"


def test_no_duplicate_credential_and_one_capstone_per_pathway(outcome):
    rows = outcome.platform.sql(
        "badge_issuer",
        "SELECT learner_key, achievement_id, count(*) AS n FROM credentials WHERE org_id = $1 "
        "GROUP BY learner_key, achievement_id",
        outcome.org,
    )
    assert all(row["n"] == 1 for row in rows), [dict(row) for row in rows if row["n"] > 1]
    per_learner = Counter(row["learner_key"] for row in rows)
    assert len(per_learner) == LEARNERS and set(per_learner.values()) == {3}  # two steps and the capstone
    results = outcome.platform.sql("badge_issuer", "SELECT count(*) FROM assessment_results")[0][0]
    assert results == 2 * LEARNERS


def test_status_list_indexes_are_unique_across_replicas(outcome):
    rows = outcome.platform.sql("badge_issuer", "SELECT status_list_id, status_index FROM credentials")
    indexes = [(row["status_list_id"], row["status_index"]) for row in rows]
    assert len(indexes) == len(set(indexes)) == 3 * LEARNERS


def test_every_credential_issued_event_reaches_the_gap_engine_once(outcome):
    platform = outcome.platform
    issued = {
        f"urn:uuid:{row['id']}"
        for row in platform.sql("badge_issuer", "SELECT id FROM credentials WHERE org_id = $1", outcome.org)
    }
    held = platform.sql(
        "gap_engine", "SELECT credential_id, status FROM received_credentials WHERE org_id = $1", outcome.org
    )
    assert Counter(row["credential_id"] for row in held) == Counter(issued)  # each once, none missing
    assert {row["status"] for row in held} == {"verified"}
    deliveries = platform.sql("badge_issuer", "SELECT status, attempts, last_error FROM webhook_deliveries")
    events = platform.sql("badge_issuer", "SELECT count(*) FROM outbox_events WHERE type = 'credential.issued'")[0][0]
    assert len(deliveries) == events == len(issued)
    received = platform.sql("gap_engine", "SELECT count(DISTINCT message_id), count(*) FROM received_webhooks")[0]
    assert tuple(received) == (events, events)
    assert {row["status"] for row in deliveries} == {"delivered"}
    # Delivery is at least once: an attempt that timed out after the gap engine took it is sent again,
    # and the receiver answers that replay 200 without doing anything. Each event was taken once (202),
    # and no delivery was sent more often than its attempts say: two workers never sent one together.
    posts = Counter()
    for i in range(len(platform.replicas["gap_engine"])):
        posts["taken"] += platform.metric("gap_engine", i, "http_requests_total", route=WEBHOOK_ROUTE, status="202")
        posts["all"] += platform.metric("gap_engine", i, "http_requests_total", route=WEBHOOK_ROUTE)
    attempts = sum(row["attempts"] for row in deliveries)
    assert posts["taken"] == events, (posts, outcome.delivery_errors)
    assert posts["all"] <= attempts, (posts, attempts)
    assert attempts - events <= events // 20, (attempts, outcome.delivery_errors)  # retries stay the exception


def test_the_public_rate_limit_is_one_budget_for_both_replicas(outcome):
    platform = outcome.platform
    statuses = Counter(response.status_code for response in outcome.rate_limited)
    assert statuses == {200: PUBLIC_LIMIT, 429: 60}, statuses
    for response in outcome.rate_limited:
        if response.status_code == 429:
            assert 1 <= int(response.headers["retry-after"]) <= 60
    for i in range(len(platform.replicas["badge_issuer"])):  # both replicas answered, and both refused
        for status in ("200", "429"):
            assert platform.metric("badge_issuer", i, "http_requests_total", route="/v1/verify", status=status) > 0


def test_the_incremental_organisation_report_equals_a_full_recompute(outcome):
    from services.gap_engine.analysis import snapshots
    from shared.db import Database

    platform = outcome.platform
    states = platform.sql(
        "gap_engine", "SELECT basis, revision, stale FROM gap_report_states WHERE org_id = $1", outcome.org
    )
    assert {row["basis"] for row in states} == {"current", "target"}
    for row in states:  # every event was applied to the stored aggregates, none forced a full recompute
        assert not row["stale"] and row["revision"] > outcome.reports_before[row["basis"]], dict(row)

    async def compare() -> dict[str, tuple[dict, dict]]:
        database = Database(platform.databases["gap_engine"], pool_size=1)
        pairs = {}
        try:
            async with httpx.AsyncClient(headers=outcome.headers, timeout=30) as http:
                for basis in ("current", "target"):
                    url = f"{platform.url('gap_engine')}/v1/reports/organisation"
                    served = [_ok(await http.get(url, params={"basis": basis})) for _ in range(2)]  # both replicas
                    assert _without_as_of(served[0]) == _without_as_of(served[1])
                    async with database.sessions() as session:
                        await snapshots.recompute_organisation(session, outcome.org, basis)
                        await session.commit()
                        body, _ = await snapshots.stored_report(session, outcome.org, "organisation", basis=basis)
                    pairs[basis] = (_without_as_of(served[0]), _without_as_of(orjson.loads(body)))
        finally:
            await database.dispose()
        return pairs

    for basis, (incremental, recomputed) in asyncio.run(compare()).items():
        assert recomputed["assessed"] == LEARNERS and recomputed["requirements"], basis
        assert incremental == recomputed, basis


def _without_as_of(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "as_of"}


def test_the_status_recheck_runs_on_one_replica_at_a_time(outcome):
    """The sweep holds a lease row: with both replicas alive, one of them does every re-check."""
    rechecks = _rechecks(outcome.platform)
    assert sorted(rechecks)[0] == 0 and sorted(rechecks)[1] >= 3 * LEARNERS, rechecks
    leases = outcome.platform.sql("gap_engine", "SELECT name, holder FROM worker_leases")
    assert len(leases) == len({row["name"] for row in leases}) >= 1
