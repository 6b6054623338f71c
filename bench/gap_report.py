"""Gap engine at organisation scale (issue 9): a synthetic organisation on a throwaway PostgreSQL, then

1. one employee's gap report through HTTP (uvicorn, 1 worker; wrk, 32 clients, hris ids rotated by Lua);
2. the whole-organisation report (role x skill share meeting each requirement, readiness for every
   employee, top gaps by weighted shortfall) as set-based SQL, median of 3, peak RSS of its process;
3. the same report as a naive pure-Python loop over the same rows, in the same run, as a ratio;
4. the stored snapshot (analysis/snapshots.py): its full recompute (median of 3, peak RSS), the stored
   organisation report served through HTTP (median / p99 of sequential GETs, and 304s), and single
   credential events (a fact added, then revoked, through an ORM session and committed) brought into it
   incrementally by the session hooks (median / p99), each beside the naive full recompute as a ratio;
   then a check that the incrementally kept report equals a fresh full recompute.

    uv run python bench/gap_report.py [--employees 100000] [--facts 1000000] [--events 200] [--workers 1,2]
                                      [--only-http]

--only-http runs phase 1 alone (the one-employee read), for measuring a change to that read in a few minutes.

Targets (issue 16): HTTP >= 2,000 req/s with p99 < 20 ms at 32 clients, reported for 1 and 2 workers;
the stored recompute <= 1.0x the reference set-based SQL (rounds interleaved in one run) and <= 1.5 s where
the machine gives that SQL <= 1.4 s; < 1 GiB resident; snapshot served < 50 ms; incremental event < 100 ms.
Each organisation-wide implementation runs in its own child process (this file with --child), so its
peak RSS is its own and every phase is bounded by a timeout.
"""

import argparse
import asyncio
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench.harness import (  # noqa: E402
    LoadResult,
    create_database,
    ensure_wrk,
    parse_wrk_output,
    temporary_postgres,
    uvicorn_server,
)
from shared.auth import TokenAuthority, load_or_create_private_key  # noqa: E402
from shared.migrations import upgrade  # noqa: E402

ROLES, REQUIREMENTS_PER_ROLE, SKILLS, TEAM_SIZE = 500, 20, 2_000, 100
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHILD_TIMEOUT_SECONDS = 600
TOP_GAPS = 20


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


async def generate(url: str, employees: int, facts: int, seed: int = 9) -> uuid.UUID:
    """The synthetic organisation, loaded with COPY; returns its org id."""
    rng = random.Random(seed)
    org = _uuid(rng)
    skills = [_uuid(rng) for _ in range(SKILLS)]
    roles = [_uuid(rng) for _ in range(ROLES)]
    requirements: dict[uuid.UUID, list[uuid.UUID]] = {}
    requirement_rows = []
    for index, role in enumerate(roles):
        chosen = rng.sample(range(SKILLS), REQUIREMENTS_PER_ROLE)
        requirements[role] = [skills[s] for s in chosen]
        for position, s in enumerate(chosen):
            requirement_rows.append(
                (
                    _uuid(rng),
                    org,
                    role,
                    skills[s],
                    f"Skill {s:04d}",
                    rng.randint(1, 5),
                    float(rng.randint(1, 3)),
                    "must" if position < 8 else "should",
                )
            )
        del index
    synced_rows = [(_uuid(rng), org, role, f"Role {i:03d}", NOW) for i, role in enumerate(roles)]
    employee_ids = [_uuid(rng) for _ in range(employees)]
    targets = [rng.choice(roles) for _ in range(employees)]
    employee_rows = [
        (
            employee_ids[i],
            org,
            NOW,
            NOW,
            f"E{i:06d}",
            f"Employee {i}",
            f"e{i}@example.com",
            f"E{(i // TEAM_SIZE) * TEAM_SIZE:06d}",
            f"T{i // TEAM_SIZE:04d}",
            f"D{i // (TEAM_SIZE * 10):03d}",
            date(2020, 1, 1),
            rng.choice(roles),
            targets[i],
        )
        for i in range(employees)
    ]
    earned = NOW - timedelta(days=200)
    past, future = NOW - timedelta(days=10), NOW + timedelta(days=365)
    fact_rows = []
    for n in range(facts):
        e = n % employees
        skill = rng.choice(requirements[targets[e]]) if rng.random() < 0.7 else skills[rng.randrange(SKILLS)]
        roll = rng.random()
        expires = past if roll < 0.05 else future if roll < 0.10 else None
        fact_rows.append(
            (
                _uuid(rng),
                org,
                employee_ids[e],
                skill,
                rng.randint(1, 5),
                f"urn:uuid:cred-{n}",
                "did:web:issuer.example",
                earned,
                expires,
                rng.random() < 0.02,
                NOW,
            )
        )
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await connection.copy_records_to_table(
            "synced_roles", records=synced_rows, columns=["id", "org_id", "role_id", "name", "synced_at"]
        )
        await connection.copy_records_to_table(
            "role_requirements",
            records=requirement_rows,
            columns=["id", "org_id", "role_id", "skill_id", "skill_name", "required_level", "weight", "criticality"],
        )
        await connection.copy_records_to_table(
            "employees",
            records=employee_rows,
            columns=[
                "id",
                "org_id",
                "created_at",
                "updated_at",
                "hris_id",
                "name",
                "email",
                "manager_hris_id",
                "team",
                "department",
                "hire_date",
                "current_role_id",
                "target_role_id",
            ],
        )
        await connection.copy_records_to_table(
            "skill_facts",
            records=fact_rows,
            columns=[
                "id",
                "org_id",
                "employee_id",
                "skill_id",
                "level",
                "credential_id",
                "issuer_id",
                "earned_at",
                "expires_at",
                "revoked",
                "created_at",
            ],
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return org


# --- whole-organisation report --------------------------------------------------------------------------

# Only facts that bear on a requirement of the employee's target (else current) role are aggregated:
# a requirement with no current fact counts as level 0, so per role x skill the weighted shortfall is
# weight x (required x headcount - sum of credited levels), and readiness adds only the covered part;
# nothing expands employees x requirements. Both shapes come back from one statement (UNION ALL), the
# role x skill rows ranked by weighted shortfall (= mean shortfall x weight x headcount) for the top gaps.
ORGANISATION_SQL = """
WITH staff AS (
    SELECT id, coalesce(target_role_id, current_role_id) AS role_id
    FROM employees WHERE org_id = $1
), verified AS (
    SELECT f.employee_id, s.role_id, f.skill_id, r.weight, r.required_level, max(f.level) AS level
    FROM skill_facts f
    JOIN staff s ON s.id = f.employee_id
    JOIN role_requirements r ON r.org_id = $1 AND r.role_id = s.role_id AND r.skill_id = f.skill_id
    WHERE f.org_id = $1 AND NOT f.revoked AND (f.expires_at IS NULL OR f.expires_at > $2)
    GROUP BY f.employee_id, s.role_id, f.skill_id, r.weight, r.required_level
), headcount AS (
    SELECT role_id, count(*) AS n FROM staff GROUP BY role_id
), role_weight AS (
    SELECT role_id, sum(weight) AS total, sum(CASE WHEN required_level <= 0 THEN weight ELSE 0 END) AS always
    FROM role_requirements WHERE org_id = $1 GROUP BY role_id
), credited AS (
    SELECT role_id, skill_id,
           count(*) FILTER (WHERE level >= required_level) AS meeting,
           sum(least(level, greatest(required_level, 0))) AS levels
    FROM verified GROUP BY role_id, skill_id
), covered AS (
    SELECT employee_id, sum(weight * least(level, required_level)::float8 / required_level) AS covered
    FROM verified WHERE required_level > 0 GROUP BY employee_id
), role_skill AS (
    SELECT r.role_id, r.skill_id, h.n AS headcount,
           CASE WHEN r.required_level <= 0 THEN h.n ELSE coalesce(c.meeting, 0) END AS meeting,
           r.weight * (greatest(r.required_level, 0) * h.n - coalesce(c.levels, 0)) AS weighted_shortfall
    FROM role_requirements r
    JOIN headcount h ON h.role_id = r.role_id
    LEFT JOIN credited c ON c.role_id = r.role_id AND c.skill_id = r.skill_id
    WHERE r.org_id = $1
)
SELECT 1 AS by_requirement, NULL::uuid AS employee_id, role_id, skill_id, headcount, meeting,
       weighted_shortfall, NULL::float8 AS readiness,
       row_number() OVER (ORDER BY weighted_shortfall DESC, role_id, skill_id) AS gap_rank
FROM role_skill
UNION ALL
SELECT 0, s.id, NULL, NULL, NULL, NULL, NULL,
       100.0 * (coalesce(c.covered, 0) + w.always) / w.total, NULL
FROM staff s
JOIN role_weight w ON w.role_id = s.role_id
LEFT JOIN covered c ON c.employee_id = s.id
"""


async def organisation_sql(url: str, org: uuid.UUID) -> dict:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(ORGANISATION_SQL, org, NOW)
    finally:
        await connection.close()
    shares: dict[tuple, float] = {}
    readiness: dict[uuid.UUID, float] = {}
    top: list[tuple] = []
    for row in rows:
        if row["by_requirement"]:
            shares[(row["role_id"], row["skill_id"])] = row["meeting"] / row["headcount"]
            if row["gap_rank"] <= TOP_GAPS:
                top.append((row["gap_rank"], row["role_id"], row["skill_id"], float(row["weighted_shortfall"])))
        else:
            readiness[row["employee_id"]] = float(row["readiness"])
    top.sort()
    return _summary(shares, readiness, [(r, s, w) for _, r, s, w in top])


async def organisation_naive(url: str, org: uuid.UUID) -> dict:
    """Fetch the rows, then plain Python loops and dicts."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        employees = await connection.fetch(
            "SELECT id, target_role_id, current_role_id FROM employees WHERE org_id = $1", org
        )
        requirements = await connection.fetch(
            "SELECT role_id, skill_id, required_level, weight FROM role_requirements WHERE org_id = $1", org
        )
        facts = await connection.fetch(
            "SELECT employee_id, skill_id, level, revoked, expires_at FROM skill_facts WHERE org_id = $1", org
        )
    finally:
        await connection.close()
    verified: dict[tuple, int] = {}
    for fact in facts:
        if fact["revoked"] or (fact["expires_at"] is not None and fact["expires_at"] <= NOW):
            continue
        key = (fact["employee_id"], fact["skill_id"])
        if fact["level"] > verified.get(key, 0):
            verified[key] = fact["level"]
    by_role: dict[uuid.UUID, list] = {}
    for requirement in requirements:
        by_role.setdefault(requirement["role_id"], []).append(requirement)
    headcount: dict[tuple, int] = {}
    meeting: dict[tuple, int] = {}
    shortfall_sum: dict[tuple, float] = {}
    readiness: dict[uuid.UUID, float] = {}
    for employee in employees:
        role = employee["target_role_id"] or employee["current_role_id"]
        if role not in by_role:
            continue
        covered = total = 0.0
        for requirement in by_role[role]:
            level = verified.get((employee["id"], requirement["skill_id"]), 0)
            required, weight = requirement["required_level"], requirement["weight"]
            shortfall = 0 if level >= required else required - level
            coverage = 1.0 if required <= 0 or level >= required else level / required
            key = (role, requirement["skill_id"])
            headcount[key] = headcount.get(key, 0) + 1
            meeting[key] = meeting.get(key, 0) + (shortfall == 0)
            shortfall_sum[key] = shortfall_sum.get(key, 0.0) + weight * shortfall
            covered += weight * coverage
            total += weight
        readiness[employee["id"]] = 100.0 * covered / total
    shares = {key: meeting[key] / count for key, count in headcount.items()}
    ranked = sorted(shortfall_sum.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))[:TOP_GAPS]
    return _summary(shares, readiness, [(r, s, w) for (r, s), w in ranked])


def _summary(shares: dict, readiness: dict, top: list) -> dict:
    """A fingerprint of the report, to check both implementations agree."""
    return {
        "role_skill_pairs": len(shares),
        "mean_share_meeting": round(sum(shares.values()) / max(len(shares), 1), 6),
        "employees": len(readiness),
        "mean_readiness": round(sum(readiness.values()) / max(len(readiness), 1), 4),
        "top_gap": f"{top[0][0]}/{top[0][1]} {top[0][2]:.0f}" if top else "-",
        "top_gaps_total": round(sum(w for _, _, w in top), 1),
    }


async def snapshot_recompute(url: str, org: uuid.UUID) -> dict:
    """The stored snapshot's full recompute (what the service runs when a report is stale), committed.
    The target-role basis does the same work as ORGANISATION_SQL (70 % of the facts bear on the target
    role) and is the one timed; the current-role basis (few facts bear on it here) is timed beside it."""
    from services.gap_engine.analysis import snapshots
    from shared.db import Database

    database = Database(url)
    seconds = {}
    try:
        for basis in ("current", "target"):
            started = time.perf_counter()
            async with database.sessions() as session:
                await snapshots.recompute_organisation(session, org, basis, as_of=NOW)
                await session.commit()
            seconds[basis] = time.perf_counter() - started
    finally:
        await database.dispose()
    return {"current_s": round(seconds["current"], 3), "target_s": seconds["target"]}


def child(kind: str, url: str, org: uuid.UUID, rounds: int) -> None:
    function = {"sql": organisation_sql, "naive": organisation_naive, "snapshot": snapshot_recompute}[kind]
    seconds, summary = [], {}
    for _ in range(rounds):
        started = time.perf_counter()
        summary = asyncio.run(function(url, org))
        # The snapshot child times its target-role recompute itself (it also runs the current-role one).
        seconds.append(summary.pop("target_s", time.perf_counter() - started))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_kib / 1024, "summary": summary}))


def run_child(kind: str, url: str, org: uuid.UUID, rounds: int) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--url", url, "--org", str(org), "--rounds", str(rounds)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS)
    return json.loads(output.stdout.strip().splitlines()[-1])


# --- HTTP -----------------------------------------------------------------------------------------------

_ROTATE_SCRIPT = r"""
-- GET /v1/employees/E<random id>/gap; args[1] = number of employees
local n
function init(args) n = tonumber(args[1]); math.randomseed(os.time() + math.random(1, 100000)) end
function request()
  return wrk.format("GET", string.format("/v1/employees/E%06d/gap", math.random(0, n - 1)))
end
"""


def wrk_rotating(base: str, *, headers: dict[str, str], employees: int, seconds: int) -> LoadResult:
    folder = Path(tempfile.mkdtemp(prefix="credstack-bench-wrk."))
    script = folder / "rotate.lua"
    script.write_text(_ROTATE_SCRIPT)
    command = [ensure_wrk(), "-t2", "-c32", f"-d{seconds}s", "--latency", "--timeout", "5s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    try:
        output = subprocess.run(
            [*command, base, "--", str(employees)], check=True, capture_output=True, text=True, timeout=seconds + 60
        ).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return parse_wrk_output(output)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def snapshot_http(base: str, headers: dict[str, str], requests: int = 60) -> dict:
    """Sequential GETs of the stored organisation report (the first builds the body), then 304s."""
    timings, not_modified = [], []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        first = client.get("/v1/reports/organisation")
        first.raise_for_status()
        build = time.perf_counter() - started
        etag = first.headers["etag"]
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get("/v1/reports/organisation")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200 and response.headers["etag"] == etag
            started = time.perf_counter()
            response = client.get("/v1/reports/organisation", headers={"If-None-Match": etag})
            not_modified.append(time.perf_counter() - started)
            assert response.status_code == 304
    return {
        "build_s": build,
        "bytes": len(first.content),
        "median_ms": statistics.median(timings) * 1000,
        "p99_ms": _percentile(timings, 0.99) * 1000,
        "not_modified_median_ms": statistics.median(not_modified) * 1000,
        "not_modified_p99_ms": _percentile(not_modified, 0.99) * 1000,
    }


async def incremental_events(url: str, org: uuid.UUID, employees: int, events: int) -> dict:
    """Credential events through an ORM session, each committed: half add a fact, half revoke one."""
    from sqlalchemy import select

    from services.gap_engine.analysis import snapshots
    from services.gap_engine.db.tables import Employee, RoleRequirement, SkillFact
    from shared.db import Database

    rng = random.Random(99)
    database = Database(url)
    timings: list[float] = []
    try:
        async with database.sessions() as session:
            hris = [f"E{rng.randrange(employees):06d}" for _ in range(events // 2)]
            people = (
                await session.execute(
                    select(Employee.id, Employee.current_role_id).where(
                        Employee.org_id == org, Employee.hris_id.in_(hris)
                    )
                )
            ).all()
            skills = {
                role: list(ids)
                for role, ids in _group(
                    (await session.execute(select(RoleRequirement.role_id, RoleRequirement.skill_id))).all()
                ).items()
            }
            added = []
            for employee_id, role_id in people:
                fact = SkillFact(
                    org_id=org,
                    employee_id=employee_id,
                    skill_id=rng.choice(skills[role_id]),
                    level=rng.randint(1, 5),
                    weight=rng.choice([1.0, 0.5]),
                    credential_id=f"urn:uuid:{uuid.uuid4()}",
                    issuer_id="did:web:bench.example",
                    earned_at=NOW,
                )
                started = time.perf_counter()
                async with snapshots.keeping_reports_current(session, org, employee_ids=[employee_id]):
                    session.add(fact)
                await session.commit()
                timings.append(time.perf_counter() - started)
                added.append(fact)
            for fact in added:
                started = time.perf_counter()
                async with snapshots.keeping_reports_current(session, org, employee_ids=[fact.employee_id]):
                    fact.revoked = True
                await session.commit()
                timings.append(time.perf_counter() - started)
            body, _ = await snapshots.stored_report(session, org, "organisation")
            await snapshots.recompute_organisation(session, org, "current", as_of=NOW)
            await session.commit()
            fresh, _ = await snapshots.stored_report(session, org, "organisation")
    finally:
        await database.dispose()
    agree = json.loads(body) == json.loads(fresh)
    return {
        "events": len(timings),
        "median_ms": statistics.median(timings) * 1000,
        "p99_ms": _percentile(timings, 0.99) * 1000,
        "agree": agree,
    }


def _group(rows: list) -> dict:
    grouped: dict = {}
    for key, value in rows:
        grouped.setdefault(key, []).append(value)
    return grouped


def http_phase(
    url: str, org: uuid.UUID, employees: int, seconds: int, work: Path, workers: list[int], *, snapshot: bool = True
) -> tuple[dict[int, LoadResult], dict]:
    """The one-employee read under wrk at each worker count (same server settings otherwise), then (with
    `snapshot`) the stored organisation report served by the first."""
    key_file = work / "auth.pem"
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=True), issuer="credstack", audience="credstack", ttl_seconds=3600
    )
    token = authority.issue(org_id=org, client_id="bench", scopes=frozenset({"gaps:read"}))
    headers = {"Authorization": f"Bearer {token}"}
    env = {
        "CREDSTACK_GAP_DATABASE_URL": url,
        "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file),
        "CREDSTACK_GAP_MASTER_KEY_FILE": str(work / "master.key"),
        "CREDSTACK_GAP_ACCESS_LOG": "false",
        "CREDSTACK_LOG_LEVEL": "WARNING",
    }
    loads: dict[int, LoadResult] = {}
    served: dict = {}
    for count in workers:
        with uvicorn_server("services.gap_engine.app:create_app", env, workers=count) as base:
            sample = httpx.get(f"{base}/v1/employees/E000001/gap", headers=headers, timeout=10)
            sample.raise_for_status()
            report = sample.json()
            assert len(report["requirements"]) == REQUIREMENTS_PER_ROLE, report
            if not loads:
                print(f"sample: E000001 readiness {report['readiness']} ({len(report['requirements'])} requirements)")
            loads[count] = wrk_rotating(base, headers=headers, employees=employees, seconds=seconds)
            if snapshot and not served:
                served = snapshot_http(base, headers)
    return loads, served


def interleaved_recomputes(url: str, org: uuid.UUID, rounds: int) -> tuple[dict, dict]:
    """The reference SQL and the stored snapshot's recompute, one round of each in turn, so a noisy
    machine slows both alike and their ratio holds."""
    sql: dict = {"seconds": [], "peak_rss_mib": 0.0, "summary": {}}
    snapshot: dict = {"seconds": [], "peak_rss_mib": 0.0, "summary": {}}
    for _ in range(rounds):
        for kind, into in (("sql", sql), ("snapshot", snapshot)):
            result = run_child(kind, url, org, 1)
            into["seconds"] += result["seconds"]
            into["peak_rss_mib"] = max(into["peak_rss_mib"], result["peak_rss_mib"])
            into["summary"] = result["summary"]
    return sql, snapshot


def _line(name: str, result: str, target: str, ok: bool) -> None:
    verdict = "" if target.startswith("(") else "met" if ok else "MISSED"
    print(f"{name:<46}{result:>22}  {target:<22}{verdict:>7}")


def _print_http(loads: dict[int, LoadResult], employees: int, facts: int, note: str = "") -> None:
    """The table's heading and its one-employee read lines, one group per worker count."""
    print(f"\nGap engine, {employees:,} employees / {facts:,} facts, PostgreSQL 15 on loopback{note}")
    print(f"{'measure':<46}{'result':>22}  {'target':<22}{'verdict':>7}")
    for count, http in loads.items():
        label = f"employee gap, HTTP, {count} worker{'s' if count > 1 else ''}"
        _line(f"{label}: req/s", f"{http.requests_per_second:,.0f}", ">= 2,000", http.requests_per_second >= 2000)
        _line(f"{label}: p50 / p99 ms", f"{http.p50_ms:.2f} / {http.p99_ms:.2f}", "p99 < 20", http.p99_ms < 20)
        _line(f"{label}: errors", str(http.errors), "0", http.errors == 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts for the HTTP read, e.g. 1,2")
    parser.add_argument("--only-http", action="store_true", help="only the one-employee read through HTTP")
    parser.add_argument("--child", choices=["sql", "naive", "snapshot"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--org", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, uuid.UUID(args.org), args.rounds)
        return
    work = Path(tempfile.mkdtemp(prefix="credstack-bench."))
    with temporary_postgres() as admin_url:
        url = asyncio.run(create_database(admin_url, "gap_bench"))
        upgrade("gap_engine", url)
        started = time.perf_counter()
        org = asyncio.run(generate(url, args.employees, args.facts))
        generation = time.perf_counter() - started
        print(
            f"generated {args.employees:,} employees, {ROLES} roles x {REQUIREMENTS_PER_ROLE} requirements, "
            f"{SKILLS:,} skills, {args.facts:,} skill facts (COPY + VACUUM ANALYZE) in {generation:.1f} s"
        )
        workers = [int(count) for count in args.workers.split(",")]
        if args.only_http:
            loads, _ = http_phase(url, org, args.employees, args.seconds, work, workers, snapshot=False)
            _print_http(loads, args.employees, args.facts)
            return
        sql, snapshot = interleaved_recomputes(url, org, args.rounds)
        loads, served = http_phase(url, org, args.employees, args.seconds, work, workers)
        events = asyncio.run(incremental_events(url, org, args.employees, args.events))
        naive = run_child("naive", url, org, args.rounds)
    sql_median, naive_median = statistics.median(sql["seconds"]), statistics.median(naive["seconds"])
    snapshot_median = statistics.median(snapshot["seconds"])
    _print_http(loads, args.employees, args.facts, f" (whole-organisation: median of {args.rounds})")
    _line("organisation, set-based SQL (reference): s", f"{sql_median:.3f}", "(reference)", True)
    _line("organisation, SQL process peak RSS: MiB", f"{sql['peak_rss_mib']:.0f}", "< 1024", sql["peak_rss_mib"] < 1024)
    _line("organisation, naive Python (fetch+loops): s", f"{naive_median:.3f}", "(baseline)", True)
    _line("organisation, naive process peak RSS: MiB", f"{naive['peak_rss_mib']:.0f}", "(baseline)", True)
    print(f"ratio SQL / naive: {sql_median / naive_median:.2f}  (naive / SQL: {naive_median / sql_median:.1f}x)")
    ratio = snapshot_median / sql_median
    _line("snapshot recompute / reference SQL (ratio)", f"{ratio:.2f}x", "<= 1.00x", ratio <= 1.0)
    # The absolute bound holds where the machine runs the reference SQL within 1.4 s; else only the ratio.
    quiet = sql_median <= 1.4
    _line(
        "snapshot full recompute (target roles): s",
        f"{snapshot_median:.3f}",
        "<= 1.5" if quiet else "(SQL > 1.4 s: n/a)",
        snapshot_median <= 1.5 or not quiet,
    )
    _line(
        "snapshot recompute process peak RSS: MiB",
        f"{snapshot['peak_rss_mib']:.0f}",
        "< 1024",
        snapshot["peak_rss_mib"] < 1024,
    )
    _line(
        "snapshot served, HTTP 200: median / p99 ms",
        f"{served['median_ms']:.1f} / {served['p99_ms']:.1f}",
        "< 50",
        served["p99_ms"] < 50,
    )
    _line(
        "snapshot served, HTTP 304: median / p99 ms",
        f"{served['not_modified_median_ms']:.1f} / {served['not_modified_p99_ms']:.1f}",
        "< 50",
        served["not_modified_p99_ms"] < 50,
    )
    _line(
        f"incremental event x{events['events']}: median / p99 ms",
        f"{events['median_ms']:.1f} / {events['p99_ms']:.1f}",
        "< 100",
        events["p99_ms"] < 100,
    )
    _line("incremental report == full recompute", str(events["agree"]), "True", events["agree"])
    print(
        f"snapshot body {served['bytes']:,} bytes, built from the aggregates in {served['build_s']:.3f} s; "
        f"ratios against the naive Python recompute ({naive_median:.3f} s): "
        f"stored recompute {naive_median / snapshot_median:.1f}x faster, "
        f"served {naive_median * 1000 / served['median_ms']:.0f}x, "
        f"incremental event {naive_median * 1000 / events['median_ms']:.0f}x"
    )
    print("snapshot recompute rounds s (target roles):", " ".join(f"{s:.3f}" for s in snapshot["seconds"]))
    print("snapshot recompute, current-role basis alone (last round) s:", snapshot["summary"]["current_s"])
    print("SQL rounds s:  ", " ".join(f"{s:.3f}" for s in sql["seconds"]))
    print("naive rounds s:", " ".join(f"{s:.3f}" for s in naive["seconds"]))
    print("SQL report:  ", sql["summary"])
    print("naive report:", naive["summary"])
    print("reports agree:", sql["summary"] == naive["summary"])


if __name__ == "__main__":
    main()
