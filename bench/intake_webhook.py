"""Gap-engine intake BY WEBHOOK beside the bulk issuance rate of the same run (issue 16), on PostgreSQL.

    uv run python bench/intake_webhook.py [--credentials 2000] [--rounds 2] [--format vc-jwt|data-integrity]
                                          [--anonymous]

taxonomy_api, the badge issuer (with its outbox worker) and the gap engine run under uvicorn (1 worker each)
on loopback against a throwaway PostgreSQL, each at its default settings except that the gap engine's
reconciliation is pushed out of the run (so every credential it holds arrived by webhook) and its status
sweep is off. Each round is a fresh organisation wired as `credstack demo` wires one: an issuer
subscription pointing at a gap-engine webhook source with the subscription's secret and an API client
(`--anonymous`: a source without a client, the issue's measurement). K credentials are issued through
POST /v1/assessment-results/bulk (500 per request, sequential), and the clock runs from the first bulk
request until the gap engine holds all K (polled in its database).

Target: intake by webhook >= 0.5 x the bulk issuance rate of the same round, i.e. the gap engine holds
everything within twice the time the issuance took. Also printed: the bulk requests' max / median (issue
16: no bulk request slower than 10 x its median) and how many public, rate-limited POST /v1/verify the
issuer answered during the round (its /metrics).
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.harness import seed_organisation, three_services  # noqa: E402
from bench.issuance_http import server_pid  # noqa: E402
from bench.status_sweep import Profiler, top_frames  # noqa: E402
from services.gap_engine.db.tables import ReceivedCredential, ReceivedWebhook  # noqa: E402
from shared.auth import SCOPES, TokenAuthority  # noqa: E402
from shared.db import Database  # noqa: E402

BULK = 500
TARGET_INTAKE_RATIO = 0.5
TARGET_BULK_TAIL = 10.0
WAIT_LIMIT_FACTOR = 20  # a round gives up waiting after this many times its issuance time (and >= 60 s)


async def wired_org(http: httpx.AsyncClient, urls: dict[str, str], authority: TokenAuthority, *, anonymous: bool):  # noqa: ANN201
    """An organisation as `credstack demo` wires one: issuer profile, subscription -> source (+ API client)."""
    name = f"Webhook intake {uuid.uuid4().hex[:6]}"
    org_id, achievement_id = await seed_organisation(urls["taxonomy_db"], name)
    token = authority.issue(org_id=org_id, client_id="bench", scopes=frozenset(SCOPES.keys()))
    headers = {"Authorization": f"Bearer {token}"}
    issuer = await http.post(
        f"{urls['issuer']}/v1/issuers",
        json={"name": name, "url": "https://academy.example", "email": "badges@academy.example"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert issuer.status_code == 201, issuer.text
    trust = await http.post(
        f"{urls['gap']}/v1/trusted-issuers", json={"issuer_id": issuer.json()["did"]}, headers=headers
    )
    assert trust.status_code == 201, trust.text
    source_id = uuid.uuid4()
    subscription = await http.post(
        f"{urls['issuer']}/v1/webhook-subscriptions",
        json={"url": f"{urls['gap']}/v1/webhooks/issuer/{source_id}"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert subscription.status_code == 201, subscription.text
    source = {"id": str(source_id), "name": "academy", "secret": subscription.json()["secret"]}
    if not anonymous:
        client = await http.post(
            f"{urls['taxonomy']}/v1/clients",
            json={"name": "gap engine", "scopes": ["credentials:read", "taxonomy:read"]},
            headers=headers,
        )
        assert client.status_code == 201, client.text
        source |= {"client_id": client.json()["client_id"], "client_secret": client.json()["client_secret"]}
    created = await http.post(f"{urls['gap']}/v1/webhook-sources", json=source, headers=headers)
    assert created.status_code == 201, created.text
    roles = await http.get(f"{urls['taxonomy']}/v1/roles", headers=headers)
    role_id = next(role["id"] for role in roles.json()["items"] if role["name"] == "Project Manager")
    return org_id, headers, issuer.json()["id"], achievement_id, role_id


async def add_employees(
    http: httpx.AsyncClient, gap: str, headers: dict[str, str], hris_ids: list[str], role_id: str
) -> None:
    for start in range(0, len(hris_ids), 5_000):
        people = [
            {"hris_id": h, "name": f"Learner {h}", "email": f"{h.lower()}@example.com", "target_role_id": role_id}
            for h in hris_ids[start : start + 5_000]
        ]
        response = await http.post(f"{gap}/v1/employees/bulk", json={"employees": people}, headers=headers)
        assert response.status_code == 200, response.text


async def issue_in_bulk(  # noqa: PLR0913
    http: httpx.AsyncClient,
    issuer: str,
    headers: dict[str, str],
    org_id: uuid.UUID,
    issuer_id: str,
    achievement_id: str,
    hris_ids: list[str],
    proof_format: str,
) -> list[float]:
    """POST /v1/assessment-results/bulk in requests of BULK; returns each request's seconds."""
    durations = []
    for start in range(0, len(hris_ids), BULK):
        items = [
            {
                "learner": {"hris_id": hris_id, "email": f"{hris_id.lower()}@example.com"},
                "achievement_id": achievement_id,
                "issuer_id": issuer_id,
                "score": 90,
                "completed_at": "2026-05-08T09:30:00Z",
                "idempotency_key": f"bench-{org_id}-{hris_id}",
                "proof_format": proof_format,
            }
            for hris_id in hris_ids[start : start + BULK]
        ]
        began = time.perf_counter()
        response = await http.post(
            f"{issuer}/v1/assessment-results/bulk",
            json={"items": items},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            timeout=600,
        )
        durations.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
        refused = [item for item in response.json()["items"] if item["outcome"] != "issued"]
        assert not refused, refused[:1]
    return durations


async def holdings(gap_db: Database, org_id: uuid.UUID) -> tuple[int, dict[str, int], dict[str, int]]:
    """(received credentials, by status, webhook receipts by outcome) of the organisation."""
    async with gap_db.sessions() as session:
        by_status = dict(
            (
                await session.execute(
                    select(ReceivedCredential.status, func.count())
                    .where(ReceivedCredential.org_id == org_id)
                    .group_by(ReceivedCredential.status)
                )
            ).all()
        )
        outcomes: dict[str, int] = {}
        for outcome, count in await session.execute(
            select(ReceivedWebhook.outcome, func.count())
            .where(ReceivedWebhook.org_id == org_id)
            .group_by(ReceivedWebhook.outcome)
        ):
            label = outcome[:40]
            outcomes[label] = outcomes.get(label, 0) + count
    return sum(by_status.values()), by_status, outcomes


def public_verify_count(issuer: str) -> int:
    """POST /v1/verify the issuer answered so far (its /metrics)."""
    total = 0.0
    for line in httpx.get(f"{issuer}/metrics").text.splitlines():
        if line.startswith("http_requests_total{") and 'route="/v1/verify"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def one_round(
    number: int, args: argparse.Namespace, urls: dict[str, str], authority: TokenAuthority, gap_db: Database
) -> dict:
    k = args.credentials
    async with httpx.AsyncClient(timeout=60) as http:
        org_id, headers, issuer_id, achievement_id, role_id = await wired_org(
            http, urls, authority, anonymous=args.anonymous
        )
        hris_ids = [f"E-W{number}-{n:06d}" for n in range(k)]
        await add_employees(http, urls["gap"], headers, hris_ids, role_id)
        verifies_before = public_verify_count(urls["issuer"])
        profiling = args.profile if number == 0 else None
        gap_spy = Profiler(server_pid(urls["gap"]) if profiling else None, profiling and profiling / "gap.txt")
        issuer_spy = Profiler(server_pid(urls["issuer"]) if profiling else None, profiling and profiling / "issuer.txt")
        gap_spy.__enter__()
        issuer_spy.__enter__()
        started = time.perf_counter()
        durations = await issue_in_bulk(
            http, urls["issuer"], headers, org_id, issuer_id, achievement_id, hris_ids, args.format
        )
        issuing = time.perf_counter() - started
        deadline = started + max(60.0, WAIT_LIMIT_FACTOR * issuing)
        held = 0
        while time.perf_counter() < deadline:
            held, _, _ = await holdings(gap_db, org_id)
            if held >= k:
                break
            await asyncio.sleep(0.05)
        intake = time.perf_counter() - started
        gap_spy.__exit__()
        issuer_spy.__exit__()
        held, by_status, outcomes = await holdings(gap_db, org_id)
    row = {
        "issue_rate": k / issuing,
        "intake_rate": held / intake,
        "ratio": (held / intake) / (k / issuing),
        "issuing": issuing,
        "intake": intake,
        "complete": held >= k,
        "held": held,
        "by_status": by_status,
        "outcomes": outcomes,
        "bulk_tail": max(durations) / statistics.median(durations),
        "bulk_median": statistics.median(durations),
        "public_verifies": public_verify_count(urls["issuer"]) - verifies_before,
    }
    print(
        f"round {number + 1}: issued {k} in {issuing:.1f} s ({row['issue_rate']:.0f}/s), gap engine held {held} after "
        f"{intake:.1f} s ({row['intake_rate']:.0f}/s){'' if row['complete'] else ' GAVE UP WAITING'}; "
        f"statuses {by_status}; receipts {outcomes}; POST /v1/verify at the issuer {row['public_verifies']}",
        flush=True,
    )
    return row


async def run(args: argparse.Namespace) -> None:
    # Reconciliation is pushed out of the run, so every credential the gap engine holds came by webhook.
    gap_env = {"CREDSTACK_GAP_STATUS_SWEEP_ENABLED": "false", "CREDSTACK_GAP_RECONCILE_SECONDS": str(10**7)}
    async with three_services(gap_env=gap_env) as platform:
        urls = {
            "taxonomy": platform.taxonomy,
            "issuer": platform.issuer,
            "gap": platform.gap,
            "taxonomy_db": platform.databases["taxonomy"],
        }
        gap_db = Database(platform.databases["gap"])
        try:
            rows = [await one_round(n, args, urls, platform.authority, gap_db) for n in range(args.rounds)]
        finally:
            await gap_db.dispose()
    report(args, rows)
    if args.profile:
        for name in ("gap", "issuer"):
            print(f"\npy-spy, {name} during round 1 (share of samples, self time by function):")
            for frame, share in top_frames(args.profile / f"{name}.txt", 15):
                print(f"  {share:6.1%}  {frame}")


def report(args: argparse.Namespace, rows: list[dict]) -> None:
    def med(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    source = "without an API client (anonymous)" if args.anonymous else "with an API client (as `credstack demo`)"
    print(
        f"\nIntake by webhook, {args.credentials} {args.format} credentials per round, source {source}; PostgreSQL on "
        f"loopback, uvicorn 1 worker per service; medians over {len(rows)} round(s). Shared 2-core machine: noisy."
    )
    lines = [
        ("bulk issuance, credentials/s (500/request)", "issue_rate", "{:.0f}"),
        ("intake by webhook, credentials/s", "intake_rate", "{:.0f}"),
        ("intake / bulk issuance", "ratio", "{:.2f}"),
        ("seconds issuing", "issuing", "{:.1f}"),
        ("seconds until the gap engine held all", "intake", "{:.1f}"),
        ("slowest bulk request / median", "bulk_tail", "{:.2f}"),
        ("public POST /v1/verify answered in the round", "public_verifies", "{:.0f}"),
    ]
    for label, key, spec in lines:
        print(f"  {label:<46}{spec.format(med(key)):>10}   ({' '.join(spec.format(r[key]) for r in rows)})")
    complete = all(row["complete"] for row in rows)
    ratio = med("ratio")
    verdict = "met" if ratio >= TARGET_INTAKE_RATIO and complete else "MISSED"
    print(f"  target intake by webhook >= {TARGET_INTAKE_RATIO} x bulk issuance: {verdict} ({ratio:.2f})")
    tail = max(row["bulk_tail"] for row in rows)
    tail_verdict = "met" if tail <= TARGET_BULK_TAIL else "MISSED"
    print(f"  target no bulk request slower than {TARGET_BULK_TAIL:.0f} x its median: {tail_verdict} ({tail:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credentials", type=int, default=2_000, help="credentials issued per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--format", choices=("vc-jwt", "data-integrity"), default="vc-jwt")
    parser.add_argument("--anonymous", action="store_true", help="the webhook source has no API client")
    parser.add_argument("--profile", type=Path, help="py-spy the gap engine and the issuer in round 1; raw output here")
    args = parser.parse_args()
    args.rounds = max(1, args.rounds)
    os.environ["CREDSTACK_LOG_LEVEL"] = "WARNING"
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
