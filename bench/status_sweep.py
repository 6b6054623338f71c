"""The gap engine's background status mechanisms on PostgreSQL (DESIGN.md §6): the status re-check sweep
and intake by reconciliation, each beside its baseline in the same run.

    uv run python bench/status_sweep.py [--credentials 10000] [--reconcile 2000] [--rounds 3]
                                        [--format vc-jwt|data-integrity] [--profile DIR]

taxonomy_api, the badge issuer and the gap engine run under uvicorn (1 worker each) on loopback against a
throwaway PostgreSQL; the gap engine's own sweeper is disabled, and this process builds the gap engine's
app object (create_app, pointed at the running services over real HTTP) to call the mechanisms directly.
No webhook subscription exists at the issuer: nothing is delivered, and no outbox worker competes.

1. Reconciliation, each round on a fresh organisation (its source has never been reconciled): K
   credentials issued through POST /v1/assessment-results/bulk (500 per request, sequential), then
   reconcile_due(every=0, org_id=) until the gap engine holds all K. Target: intake >= 0.5 x the bulk
   issuance rate of the same round.
2. The sweep over every received credential (N; the reconciliation rounds' plus fill organisations of at
   most FILL_ORG_SIZE each, issued and reconciled the same way, untimed): sweep_once in batches of
   BATCH_SIZE as run_sweeper calls it, with `now` past the recheck interval so all are due. Baselines, in
   the same round: the same credentials' POST /v1/verify from one httpx client, sequentially (what
   sweep_once does: one credential at a time), authenticated with the same API client token; the
   issuer's ceiling with 32 in flight (wrk, one of those credentials, WRK_SECONDS s, same token); and
   verify_presented in this process on the issuer's database (a sample).

Requests the gap engine makes are counted by httpx event hooks on its issuer and taxonomy clients, and
cross-checked against the issuer's /metrics; SQL statements by a SQLAlchemy cursor hook on its engine.
The issuer's authenticated per-organisation rate limit (60,000/min by default) is lifted so that the
baseline at 32 in flight is not shed; the production cap it implies is printed with the figures.
"""

import argparse
import asyncio
import base64
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from bench.harness import seed_organisation, three_services, wrk_post_load  # noqa: E402
from bench.issuance_http import _py_spy, server_pid  # noqa: E402
from services.badge_issuer.app import create_app as create_issuer_app  # noqa: E402
from services.badge_issuer.domain.verification import verify_presented  # noqa: E402
from services.badge_issuer.settings import IssuerSettings  # noqa: E402
from services.gap_engine.app import create_app as create_gap_app  # noqa: E402
from services.gap_engine.db.tables import ReceivedCredential  # noqa: E402
from services.gap_engine.domain import reconciliation, status_sweep  # noqa: E402
from services.gap_engine.domain.issuer_client import IssuerVerifier  # noqa: E402
from services.gap_engine.settings import GapSettings  # noqa: E402
from shared.auth import SCOPES, TokenAuthority  # noqa: E402
from shared.db import utcnow  # noqa: E402

BULK = 500
FILL_ORG_SIZE = 9_000  # below reconciliation's 10,000 listed a round (see the report's notes)
CONCURRENCY = 32
IN_PROCESS_SAMPLE = 2_000
WRK_SECONDS = 5
TARGET_INTAKE_RATIO = 0.5


@dataclass
class Org:
    id: uuid.UUID
    headers: dict[str, str]
    issuer_id: str
    achievement_id: str
    role_id: str
    api_client: dict


@dataclass
class Services:
    taxonomy: str
    issuer: str
    gap: str
    authority: TokenAuthority
    taxonomy_url: str


class CountingVerifier(IssuerVerifier):
    """The gap engine's verifier, timing its calls: how much of a mechanism's wall time is the issuer."""

    def __init__(self, inner: IssuerVerifier) -> None:
        super().__init__(inner.http)
        self.waiting = 0.0

    async def _verify(self, authorization, **body):  # noqa: ANN001, ANN003, ANN202
        started = time.perf_counter()
        try:
            return await super()._verify(authorization, **body)
        finally:
            self.waiting += time.perf_counter() - started

    async def credentials_page(self, authorization, **params):  # noqa: ANN001, ANN003, ANN202
        started = time.perf_counter()
        try:
            return await super().credentials_page(authorization, **params)
        finally:
            self.waiting += time.perf_counter() - started


@dataclass
class Counters:
    requests: collections.Counter = field(default_factory=collections.Counter)
    statements: int = 0

    def reset(self) -> None:
        self.requests.clear()
        self.statements = 0


async def create_org(http: httpx.AsyncClient, services: Services, name: str, hris_ids: list[str]) -> Org:
    """An organisation as the tests make one: API client (credentials:read), issuer, webhook source with
    that client at the gap engine, and its employees (target role Project Manager)."""
    org_id, achievement_id = await seed_organisation(services.taxonomy_url, name)
    token = services.authority.issue(org_id=org_id, client_id="bench", scopes=frozenset(SCOPES.keys()))
    headers = {"Authorization": f"Bearer {token}"}
    client = await http.post(
        f"{services.taxonomy}/v1/clients",
        json={"name": "gap engine", "scopes": ["credentials:read"]},
        headers=headers,
    )
    assert client.status_code == 201, client.text
    issuer = await http.post(
        f"{services.issuer}/v1/issuers",
        json={"name": name, "url": "https://academy.example", "email": "badges@academy.example"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert issuer.status_code == 201, issuer.text
    source = await http.post(
        f"{services.gap}/v1/webhook-sources",
        json={
            "name": "academy",
            "secret": "whsec_" + base64.b64encode(os.urandom(24)).decode(),
            "client_id": client.json()["client_id"],
            "client_secret": client.json()["client_secret"],
        },
        headers=headers,
    )
    assert source.status_code == 201, source.text
    roles = await http.get(f"{services.taxonomy}/v1/roles", headers=headers)
    role_id = next(role["id"] for role in roles.json()["items"] if role["name"] == "Project Manager")
    for start in range(0, len(hris_ids), 5_000):
        people = [
            {"hris_id": h, "name": f"Learner {h}", "target_role_id": role_id} for h in hris_ids[start : start + 5_000]
        ]
        response = await http.post(f"{services.gap}/v1/employees/bulk", json={"employees": people}, headers=headers)
        assert response.status_code == 200, response.text
    return Org(org_id, headers, issuer.json()["id"], achievement_id, role_id, client.json())


async def issue_bulk(http: httpx.AsyncClient, issuer: str, org: Org, hris_ids: list[str], proof_format: str) -> None:
    for start in range(0, len(hris_ids), BULK):
        items = [
            {
                "learner": {"hris_id": hris_id},
                "achievement_id": org.achievement_id,
                "issuer_id": org.issuer_id,
                "score": 90,
                "completed_at": "2026-05-08T09:30:00Z",
                "idempotency_key": f"bench-{org.id}-{hris_id}",
                "proof_format": proof_format,
            }
            for hris_id in hris_ids[start : start + BULK]
        ]
        response = await http.post(
            f"{issuer}/v1/assessment-results/bulk",
            json={"items": items},
            headers={**org.headers, "Idempotency-Key": uuid.uuid4().hex},
            timeout=300,
        )
        assert response.status_code == 200, response.text
        refused = [item for item in response.json()["items"] if item["outcome"] != "issued"]
        assert not refused, refused[:1]


async def held(gap_app, org_id: uuid.UUID | None = None) -> dict[str, int]:  # noqa: ANN001
    async with gap_app.state.database.sessions() as session:
        statement = select(ReceivedCredential.status, func.count()).group_by(ReceivedCredential.status)
        if org_id is not None:
            statement = statement.where(ReceivedCredential.org_id == org_id)
        return dict((await session.execute(statement)).all())


async def reconcile_all(gap_app, verifier: IssuerVerifier, org_id: uuid.UUID, expected: int) -> tuple[int, int]:  # noqa: ANN001
    """reconcile_due until the organisation holds `expected` (one call lists at most 10,000); returns
    (calls, listed)."""
    state = gap_app.state
    calls = listed = 0
    while sum((await held(gap_app, org_id)).values()) < expected:
        outcome = await reconciliation.reconcile_due(
            state.database.sessions,
            verifier,
            state.taxonomy,
            state.service_tokens,
            state.secret_box,
            every=timedelta(0),
            org_id=org_id,
        )
        calls, listed = calls + 1, listed + outcome.listed
        if outcome.received == 0:
            raise RuntimeError(f"reconciliation made no progress after {calls} call(s): {outcome}")
    return calls, listed


async def sweep_all(gap_app, verifier: IssuerVerifier, policy: status_sweep.SweepPolicy, now) -> tuple[int, int, int]:  # noqa: ANN001
    """sweep_once in batches (as run_sweeper: BATCH_SIZE, go on at once while a batch is full) until
    nothing is due at `now`; returns (checked, still valid, calls)."""
    state = gap_app.state
    checked = valid = calls = 0
    while True:
        outcome = await status_sweep.sweep_once(
            state.database.sessions,
            verifier,
            state.service_tokens,
            state.secret_box,
            policy,
            holder="bench-sweeper",
            now=now,
        )
        assert outcome.leased, "the bench sweeper did not get the lease"
        calls += 1
        checked, valid = checked + outcome.checked, valid + outcome.still_valid
        if outcome.checked < status_sweep.BATCH_SIZE:
            return checked, valid, calls


async def http_verify(
    issuer: str, presented: list[dict], authorization: str, concurrency: int
) -> tuple[float, list[float], int]:
    """POST /v1/verify for each credential with `concurrency` in flight; (seconds, latencies, not verified)."""
    latencies: list[float] = []
    failed = 0
    queue = iter(presented)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": authorization, "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=issuer, limits=limits, timeout=30) as http:

        async def worker() -> None:
            nonlocal failed
            for document in queue:
                started = time.perf_counter()
                response = await http.post("/v1/verify", json=document, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or not response.json().get("verified"):
                    failed += 1
                    if failed == 1:
                        print(f"  first unverified: {response.status_code} {response.text[:200]}", flush=True)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, failed


async def in_process_verify(issuer_app, presented: list[dict]) -> tuple[float, int]:  # noqa: ANN001
    """verify_presented on the issuer's database, one session and commit each (as the endpoint)."""
    state = issuer_app.state
    failed = 0
    started = time.perf_counter()
    for document in presented:
        async with state.database.sessions() as session:
            result = await verify_presented(
                session, document, vault=state.key_vault, base_url=state.settings.public_base_url, fetcher=None
            )
            await session.commit()
        failed += not result.verified
    return time.perf_counter() - started, failed


def issuer_verify_count(issuer: str) -> int:
    """POST /v1/verify answered by the issuer so far, from its /metrics."""
    text = httpx.get(f"{issuer}/metrics").text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("http_requests_total{") and 'route="/v1/verify"' in line and 'method="POST"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


class Profiler:
    """py-spy on a process for one phase (raw folded stacks), then the top self-time functions."""

    def __init__(self, pid: int | None, output: Path | None) -> None:
        self.pid, self.output, self.process = pid, output, None

    def __enter__(self) -> "Profiler":
        if self.pid and self.output:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.process = subprocess.Popen(
                [_py_spy(), "record", "-p", str(self.pid), "-f", "raw", "-o", str(self.output), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process:
            self.process.send_signal(2)  # SIGINT: py-spy writes what it has
            self.process.wait(timeout=60)


def top_frames(raw: Path, count: int = 8) -> list[tuple[str, float]]:
    """Self time by function (the leaf frame) from py-spy's raw output, as shares of all samples."""
    if not raw.exists():
        return []
    totals: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if number.isdigit() and stack:
            leaf = stack.split(";")[-1]
            totals[re.sub(r"/[^ ]*site-packages/|/[^ ]*/lib/python3\.\d+/", "", leaf)] += int(number)
    samples = sum(totals.values())
    return [(name, n / samples) for name, n in totals.most_common(count)] if samples else []


async def run(args: argparse.Namespace) -> None:
    os.environ["CREDSTACK_LOG_LEVEL"] = "WARNING"  # the in-process apps' loggers too (httpx logs every request)
    started_run = time.perf_counter()
    issuer_env = {"CREDSTACK_ISSUER_AUTHENTICATED_RATE_LIMIT_PER_MINUTE": str(10**9)}
    async with three_services(issuer_env=issuer_env, gap_env={"CREDSTACK_GAP_STATUS_SWEEP_ENABLED": "false"}) as p:
        services = Services(p.taxonomy, p.issuer, p.gap, p.authority, p.databases["taxonomy"])
        await measure(args, services, p.databases, p.key_file, p.issuer_master_key, p.gap_master_key)
    print(f"\n(whole run {time.perf_counter() - started_run:.0f} s)")


async def measure(
    args: argparse.Namespace, services: Services, urls: dict[str, str], key_file: Path, issuer_key: str, gap_key: str
) -> None:
    counters = Counters()

    async def on_request(request: httpx.Request) -> None:
        counters.requests[f"{request.method} {request.url.host}:{request.url.port}{request.url.path}"] += 1

    common = {"auth_private_key_file": key_file, "environment": "dev", "access_log": False}
    gap_app = create_gap_app(
        GapSettings(
            database_url=urls["gap"],
            taxonomy_url=services.taxonomy,
            issuer_url=services.issuer,
            master_key=gap_key,
            status_sweep_enabled=False,
            **common,
        )
    )
    issuer_app = create_issuer_app(
        IssuerSettings(database_url=urls["issuer"], taxonomy_url=services.taxonomy, master_key=issuer_key, **common)
    )
    state = gap_app.state
    for client in (state.verifier.http, state.taxonomy.http):
        client.event_hooks["request"].append(on_request)
    event.listen(state.database.engine.sync_engine, "before_cursor_execute", lambda *_: _count(counters))
    verifier = CountingVerifier(state.verifier)
    policy = state.sweep_policy
    rounds, k = args.rounds, args.reconcile
    fmt = args.format
    issuer_pid = server_pid(services.issuer)
    bench_pid = os.getpid()

    # 1. reconciliation, a fresh organisation each round
    recon: list[dict] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for number in range(rounds):
            hris_ids = [f"E-R{number}-{n:06d}" for n in range(k)]
            org = await create_org(http, services, f"Reconcile {number} {uuid.uuid4().hex[:6]}", hris_ids)
            started = time.perf_counter()
            await issue_bulk(http, services.issuer, org, hris_ids, fmt)
            issuing = time.perf_counter() - started
            counters.reset()
            verifier.waiting = 0.0
            profile = args.profile / "reconcile-gap.txt" if args.profile and number == 0 else None
            started = time.perf_counter()
            with Profiler(bench_pid if profile else None, profile):
                calls, listed = await reconcile_all(gap_app, verifier, org.id, k)
            reconciling = time.perf_counter() - started
            holdings = await held(gap_app, org.id)
            recon.append(
                {
                    "issue_rate": k / issuing,
                    "intake_rate": k / reconciling,
                    "ratio": issuing / reconciling,
                    "seconds": reconciling,
                    "calls": calls,
                    "listed": listed,
                    "requests": dict(counters.requests),
                    "statements": counters.statements,
                    "issuer_share": verifier.waiting / reconciling,
                    "holdings": holdings,
                }
            )
            print(
                f"reconcile round {number + 1}: issued {k} in {issuing:.1f} s, held all in {reconciling:.1f} s "
                f"({calls} reconcile_due call(s)), {holdings}",
                flush=True,
            )

        # fill up to N received credentials with more organisations of at most FILL_ORG_SIZE
        total = rounds * k
        fill_number = 0
        while total < args.credentials:
            size = min(FILL_ORG_SIZE, args.credentials - total)
            hris_ids = [f"E-F{fill_number}-{n:06d}" for n in range(size)]
            org = await create_org(http, services, f"Fill {fill_number} {uuid.uuid4().hex[:6]}", hris_ids)
            started = time.perf_counter()
            await issue_bulk(http, services.issuer, org, hris_ids, fmt)
            middle = time.perf_counter()
            await reconcile_all(gap_app, verifier, org.id, size)
            print(
                f"fill organisation {fill_number + 1}: {size} issued in {middle - started:.1f} s, "
                f"reconciled in {time.perf_counter() - middle:.1f} s",
                flush=True,
            )
            total += size
            fill_number += 1

        holdings = await held(gap_app)
        async with state.database.sessions() as session:
            presented = [row for row in await session.scalars(select(ReceivedCredential.presented))]
        api_client = org.api_client

    # 2. the sweep beside its baselines, round-robin
    sweeps: list[dict] = []
    bare: dict[str, list] = collections.defaultdict(list)
    sample = presented[: args.in_process_sample]
    hook_total = issuer_seen = 0
    for number in range(rounds):
        now = utcnow() + (number + 1) * (policy.recheck + timedelta(minutes=1))
        counters.reset()
        verifier.waiting = 0.0
        gap_profile = args.profile / "sweep-gap.txt" if args.profile and number == 0 else None
        issuer_profile = args.profile / "sweep-issuer.txt" if args.profile and number == 0 else None
        verify_before = issuer_verify_count(services.issuer)
        started = time.perf_counter()
        with (
            Profiler(bench_pid if gap_profile else None, gap_profile),
            Profiler(issuer_pid if issuer_profile else None, issuer_profile),
        ):
            checked, valid, calls = await sweep_all(gap_app, verifier, policy, now)
        seconds = time.perf_counter() - started
        issuer_seen += issuer_verify_count(services.issuer) - verify_before
        verify_calls = sum(n for name, n in counters.requests.items() if name.endswith("/v1/verify"))
        hook_total += verify_calls
        sweeps.append(
            {
                "seconds": seconds,
                "rate": checked / seconds,
                "checked": checked,
                "valid": valid,
                "calls": calls,
                "requests": dict(counters.requests),
                "verify_requests": verify_calls,
                "statements": counters.statements,
                "issuer_share": verifier.waiting / seconds,
            }
        )
        print(f"sweep round {number + 1}: {checked} checked ({valid} still valid) in {seconds:.1f} s", flush=True)
        # The API client's token, as the sweep gets it (cached until near its expiry: a round outlasts it).
        token = await state.service_tokens.authorization(api_client["client_id"], api_client["client_secret"])
        elapsed, latencies, failed = await http_verify(services.issuer, presented, token, 1)
        bare["c1"].append((len(presented) / elapsed, pct(latencies, 0.5), pct(latencies, 0.99), failed))
        load = await asyncio.to_thread(
            wrk_post_load,
            f"{services.issuer}/v1/verify",
            headers={"Authorization": token},
            body=json.dumps(presented[0]),
            connections=CONCURRENCY,
            seconds=WRK_SECONDS,
        )
        bare["c32"].append((load.requests_per_second, load.p50_ms, load.p99_ms, load.errors + load.unexpected_status))
        elapsed, failed = await in_process_verify(issuer_app, sample)
        bare["in-process"].append((len(sample) / elapsed, 0.0, 0.0, failed))
        print(
            f"  baselines: httpx 1 in flight {bare['c1'][-1][0]:.0f}/s, wrk {CONCURRENCY} in flight "
            f"{load.requests_per_second:.0f}/s, in process {bare['in-process'][-1][0]:.0f}/s",
            flush=True,
        )

    await state.verifier.http.aclose()
    await state.taxonomy.http.aclose()
    await state.database.dispose()
    await issuer_app.state.database.dispose()
    report(args, recon, sweeps, bare, holdings, len(sample), hook_total, issuer_seen)
    if args.profile:
        for name in ("reconcile-gap", "sweep-gap", "sweep-issuer"):
            print(f"\npy-spy, {name} (share of samples, self time by function):")
            for frame, share in top_frames(args.profile / f"{name}.txt"):
                print(f"  {share:6.1%}  {frame}")


def _count(counters: Counters) -> None:
    counters.statements += 1


def report(
    args: argparse.Namespace,
    recon: list[dict],
    sweeps: list[dict],
    bare: dict[str, list],
    holdings: dict[str, int],
    sample: int,
    hook_total: int,
    issuer_seen: int,
) -> None:
    rounds = len(sweeps)
    print(
        f"\nGap engine status mechanisms, {args.format} credentials, PostgreSQL 15 on loopback, uvicorn 1 worker per "
        f"service, gap engine code in this process; medians over {rounds} round(s). Shared 2-core machine: noisy."
    )
    print(f"\n1. Intake by reconciliation ({args.reconcile} credentials, a fresh organisation each round)")
    print(f"{'':<44}{'median':>10}   (each round)")
    rows = [
        ("bulk issuance, credentials/s (500/request)", [r["issue_rate"] for r in recon], "{:.0f}"),
        ("reconciliation intake, credentials/s", [r["intake_rate"] for r in recon], "{:.0f}"),
        ("intake / bulk issuance", [r["ratio"] for r in recon], "{:.2f}"),
        ("seconds to hold all", [r["seconds"] for r in recon], "{:.2f}"),
        ("share of that waiting on the issuer", [r["issuer_share"] for r in recon], "{:.0%}"),
        ("gap engine SQL statements per credential", [r["statements"] / args.reconcile for r in recon], "{:.1f}"),
    ]
    for name, values, spec in rows:
        print(f"  {name:<42}{spec.format(med(values)):>10}   ({' '.join(spec.format(v) for v in values)})")
    ratio = med([r["ratio"] for r in recon])
    verdict = "met" if ratio >= TARGET_INTAKE_RATIO else "MISSED"
    print(f"  target intake >= {TARGET_INTAKE_RATIO} x bulk issuance: {verdict}")
    print(f"  requests the gap engine made (round 1): {_requests(recon[0]['requests'])}")
    print(f"  holdings after round 1: {recon[0]['holdings']}; reconcile_due calls: {recon[0]['calls']}")

    checked = sweeps[0]["checked"]
    print(f"\n2. Status re-check sweep over {checked} received credentials (held: {holdings})")
    print(f"{'':<44}{'cred/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'x sweep':>9}   (cred/s each round)")
    sweep_rate = med([s["rate"] for s in sweeps])
    print(
        f"  {'sweep_once (sequential, batches of 200)':<42}{sweep_rate:>10.0f}{'':>9}{'':>9}{1:>9.2f}   "
        f"({' '.join(f'{run:.0f}' for run in [s['rate'] for s in sweeps])})"
    )
    labels = {
        "c1": "POST /v1/verify, httpx, 1 in flight",
        "c32": f"POST /v1/verify, wrk, {CONCURRENCY} in flight (1 cred.)",
        "in-process": f"verify_presented in process ({sample})",
    }
    for key, label in labels.items():
        runs = bare[key]
        rate = med([r[0] for r in runs])
        p50 = f"{med([r[1] for r in runs]):.2f}" if key != "in-process" else ""
        p99 = f"{med([r[2] for r in runs]):.2f}" if key != "in-process" else ""
        failed = sum(r[3] for r in runs)
        each = " ".join(f"{r[0]:.0f}" for r in runs)
        note = f" NOT VERIFIED: {failed}" if failed else ""
        print(f"  {label:<42}{rate:>10.0f}{p50:>9}{p99:>9}{rate / sweep_rate:>9.2f}   ({each}){note}")
    print(f"  {'seconds per sweep (median)':<42}{med([s['seconds'] for s in sweeps]):>10.1f}")
    print(
        f"  {'share of the sweep waiting on the issuer':<42}{med([s['issuer_share'] for s in sweeps]):>10.0%}"
        f"   SQL statements per credential: {med([s['statements'] / max(1, s['checked']) for s in sweeps]):.1f}"
    )
    print(
        f"  requests the gap engine made per sweep (round 1): {_requests(sweeps[0]['requests'])}; "
        f"sweep_once calls {sweeps[0]['calls']}"
    )
    print(
        f"  POST /v1/verify from the sweeps: {hook_total} counted by the hook, {issuer_seen} by the issuer's "
        f"/metrics (read before and after each sweep): {'match' if hook_total == issuer_seen else 'MISMATCH'}"
    )
    print(
        f"  at the issuer's default authenticated limit (60,000/min per organisation) one organisation's "
        f"sweep cannot go above 1,000/s: {checked} would take >= {checked / 1000:.0f} s"
    )


def _requests(requests: dict[str, int]) -> str:
    shown = collections.Counter()
    for name, n in requests.items():
        method, _, rest = name.partition(" ")
        service = "issuer" if "/v1/verify" in rest or "/v1/credentials" in rest or "/v1/issuers" in rest else "taxonomy"
        shown[f"{method} {rest.split('/', 1)[1] if '/' in rest else rest} ({service})"] += n
    return ", ".join(f"{n} x {name}" for name, n in shown.most_common()) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credentials", type=int, default=10_000, help="received credentials the sweep covers")
    parser.add_argument("--reconcile", type=int, default=2_000, help="credentials issued and reconciled per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measurement (median)")
    parser.add_argument("--format", choices=("vc-jwt", "data-integrity"), default="vc-jwt")
    parser.add_argument(
        "--in-process-sample", type=int, default=IN_PROCESS_SAMPLE, help="credentials verified in-process"
    )
    parser.add_argument("--profile", type=Path, help="py-spy this process and the issuer in round 1; raw output here")
    args = parser.parse_args()
    args.rounds = max(1, args.rounds)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
