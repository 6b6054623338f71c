"""Scale-out on one machine (issue 15): issuance and employee-gap reads through haproxy at 1 and 2 replicas
per service, in the same run, on one PostgreSQL (tests/cluster.py starts it all as real processes).

    uv run python bench/scale_out.py [--seconds 6] [--rounds 3] [--employees 1000]

One cluster with two replicas of each service; haproxy has a frontend over both replicas and one over the
first only, so the two configurations share the processes, the database and the data, and their phases
alternate round by round (the machine is shared: only figures of the same run compare). Issuance posts
an assessment result (VC-JWT, a unique Idempotency-Key per request, wrk + Lua, 32 connections) and must
answer 201; the gap read is GET /v1/employees/{id}/gap over `--employees` people with rotating ids.
The table gives per phase the median req/s and p99 over the rounds, and the ratio 2 replicas / 1.

What bounds the ratio: two cores run PostgreSQL, haproxy, wrk and six service processes. One replica
already keeps about one core busy (Python) while PostgreSQL uses much of the other, so a second replica
can only take what is left: expect well under 2x, and more for reads (one SQL statement) than for
issuance (signing in Python, an INSERT and COMMIT, status index blocks, the outbox row).
"""

import argparse
import asyncio
import collections
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.gap_report import wrk_rotating  # noqa: E402
from bench.harness import LoadResult, wrk_post_load  # noqa: E402
from bench.issuance_http import LockWaitSampler  # noqa: E402
from tests.cluster import Cluster, cluster  # noqa: E402

CONNECTIONS = 32
NO_LIMIT = str(10**9)  # the public rate limit would shed the load; it is measured in bench/rate_limit_cost.py


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def _prepare(platform: Cluster, org: uuid.UUID, demo: dict, employees: int) -> tuple[dict[str, str], str]:
    """An issuer, employees on synced roles, some with verified facts; returns the organisation's admin
    headers and the body of an assessment result."""
    headers = platform.bearer(org)
    taxonomy, issuer, gap = (platform.url(s) for s in ("taxonomy_api", "badge_issuer", "gap_engine"))
    key = lambda: {"Idempotency-Key": uuid.uuid4().hex}  # noqa: E731
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        profile = {"name": "Bench Academy", "url": "https://academy.example", "email": "badges@academy.example"}
        issuer_id = _ok(await http.post(f"{issuer}/v1/issuers", json=profile, headers=key()), 201)["id"]
        roles = _ok(await http.get(f"{taxonomy}/v1/roles"))["items"]
        for role in roles:
            _ok(await http.post(f"{gap}/v1/roles/{role['id']}/sync"))
        for start in range(0, employees, 500):
            staff = [
                {
                    "hris_id": f"E{n:06d}",
                    "name": f"Person {n}",
                    "team": f"T{n % 20}",
                    "current_role_id": roles[n % 3]["id"],
                }
                for n in range(start, min(start + 500, employees))
            ]
            _ok(await http.post(f"{gap}/v1/employees/bulk", json={"employees": staff}, headers=key()))
        skills = [demo["Active listening"], demo["Conflict navigation"]]
        gate = asyncio.Semaphore(16)

        async def fact(n: int) -> None:
            body = {
                "hris_id": f"E{n // 2:06d}",
                "skill_id": str(skills[n % 2]),
                "level": 1 + n % 3,
                "credential_id": f"urn:uuid:{uuid.uuid4()}",
                "issuer_id": "did:example:bench",
                "earned_at": "2026-01-15T09:30:00Z",
            }
            async with gate:
                _ok(await http.post(f"{gap}/v1/skill-facts", json=body, headers=key()), 201)

        await asyncio.gather(*(fact(n) for n in range(min(employees, 500))))
    body = {
        "learner": {"hris_id": "E000001", "email": "ada@example.com"},
        "achievement_id": str(demo["badge:Active listening"]),
        "issuer_id": issuer_id,
        "score": 86,
        "completed_at": "2026-01-15T09:30:00Z",
        "proof_format": "vc-jwt",
    }
    return headers, json.dumps(body)


def _drain(platform: Cluster, seconds: float = 30) -> None:
    """Wait until no service has a statement running, so one phase does not load the next."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' "
        "AND state IN ('active', 'idle in transaction')"
    )
    deadline, quiet = time.monotonic() + seconds, 0
    while quiet < 5 and time.monotonic() < deadline:
        quiet = quiet + 1 if platform.sql("badge_issuer", query)[0][0] == 0 else 0
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6, help="length of each load phase (at most 8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating repetitions of the phases (median)")
    parser.add_argument("--employees", type=int, default=1000, help="people the gap reads rotate over")
    args = parser.parse_args()
    seconds, rounds, employees = max(1, min(args.seconds, 8)), max(1, args.rounds), max(10, args.employees)
    env = {
        "badge_issuer": {"CREDSTACK_ISSUER_PUBLIC_RATE_LIMIT_PER_MINUTE": NO_LIMIT},
        "gap_engine": {"CREDSTACK_GAP_PUBLIC_RATE_LIMIT_PER_MINUTE": NO_LIMIT},
        "taxonomy_api": {"CREDSTACK_TAXONOMY_PUBLIC_RATE_LIMIT_PER_MINUTE": NO_LIMIT},
    }
    results: dict[tuple[str, int], list[LoadResult]] = collections.defaultdict(list)
    issued_before = 0
    backends: dict[int, list[tuple[float, float]]] = collections.defaultdict(list)
    waits: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    with cluster(replicas=2, env=env, subset_sizes=(1,)) as platform:
        org, demo = platform.seed_organisation(f"bench-{uuid.uuid4().hex[:8]}")
        headers, body = asyncio.run(_prepare(platform, org, demo, employees))
        issued_before = platform.sql("badge_issuer", "SELECT count(*) FROM credentials")[0][0]
        issuer_database = platform.databases["badge_issuer"].rsplit("/", 1)[1]
        for _ in range(rounds):
            for replicas in (1, 2):
                issuer = platform.url("badge_issuer", replicas=1 if replicas == 1 else None)
                gap = platform.url("gap_engine", replicas=1 if replicas == 1 else None)
                with LockWaitSampler(platform.postgres.admin_url, issuer_database) as sampler:
                    issuance = wrk_post_load(
                        f"{issuer}/v1/assessment-results",
                        headers=headers,
                        body=body,
                        unique_header="Idempotency-Key",
                        expected_status=201,
                        connections=CONNECTIONS,
                        seconds=seconds,
                    )
                backends[replicas].append(sampler.means())
                waits[replicas].update(sampler.waits)
                if issuance.unexpected_status:
                    sample = issuance.first_unexpected
                    print(f"issuance, {replicas} replica(s): {issuance.unexpected_status} unexpected, e.g. {sample}")
                results[("issuance (POST assessment result, VC-JWT)", replicas)].append(issuance)
                _drain(platform)
                reads = wrk_rotating(gap, headers=headers, employees=employees, seconds=seconds)
                results[("employee gap read (GET)", replicas)].append(reads)
                _drain(platform)
        issued = platform.sql("badge_issuer", "SELECT count(*) FROM credentials")[0][0] - issued_before
    print(f"\n{rounds} rounds of {seconds} s per phase, {CONNECTIONS} connections, {employees} employees;", end=" ")
    print(f"{issued} credentials issued\n")
    print(f"{'phase':<44} {'replicas':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    phases = list(dict.fromkeys(name for name, _ in results))
    for name in phases:
        for replicas in (1, 2):
            runs = results[(name, replicas)]
            rps = statistics.median(r.requests_per_second for r in runs)
            p50 = statistics.median(r.p50_ms for r in runs)
            p99 = statistics.median(r.p99_ms for r in runs)
            print(f"{name:<44} {replicas:>8} {rps:>9.0f} {p50:>8.1f} {p99:>8.1f} {sum(r.errors for r in runs):>7}")
    print()
    for name in phases:
        one = statistics.median(r.requests_per_second for r in results[(name, 1)])
        two = statistics.median(r.requests_per_second for r in results[(name, 2)])
        print(f"{name}: 2 replicas / 1 = {two / one:.2f}x")
    for replicas in (1, 2):
        active = statistics.median(a for a, _ in backends[replicas])
        waiting = statistics.median(w for _, w in backends[replicas])
        print(f"issuance, {replicas} replica(s): issuer backends running {active:.1f}, waiting on a lock {waiting:.1f}")
        for wait, count in waits[replicas].most_common(3):
            print(f"    {count:>5} samples  {wait}")
    print("\nBound: 2 cores shared by PostgreSQL, haproxy, wrk and 6 service processes; see the module docstring.")


if __name__ == "__main__":
    main()
