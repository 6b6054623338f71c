"""Issuance and verification through HTTP (issue 3, DESIGN.md §6): 32 concurrent clients, uvicorn (1 worker
per service; --workers N for the issuer) on PostgreSQL, beside a bare FastAPI POST endpoint, in the same run.

    uv run python bench/issuance_http.py [--seconds 6] [--rounds 3] [--workers 1] [--profile DIR]

Issuance posts an assessment result (a unique Idempotency-Key per request, generated in wrk's Lua) and
must answer 201; the issuer fetches the achievement from taxonomy_api, which runs beside it. Verification
posts one fixed issued credential to POST /v1/verify (the DI credential, and {"jwt": ...}).
Targets: issuance VC-JWT >= 1,000/s, Data Integrity >= 300/s; verification VC-JWT >= 2,000/s, Data
Integrity >= 500/s; p99 < 100 ms. The phases run round-robin `--rounds` times and the table gives the
median req/s and median p99 of each (the machine is shared: compare each figure with the bare endpoint
of the same run). Before the load, the bench process also times bare in-process signing on the issued
sample credential: the Ed25519 primitive alone, our VC-JWT and Data Integrity sign and verify.
With --profile, py-spy records the issuer during each phase of the first round (raw).
"""

import argparse
import asyncio
import collections
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402

from bench.bench_signing import median_rate  # noqa: E402
from bench.harness import (  # noqa: E402
    PostLoadResult,
    issuer_stack,
    presented_form,
    service_databases,
    uvicorn_server,
    wrk_post_load,
)
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt  # noqa: E402

CONNECTIONS = 32
TARGETS = {  # name -> (req/s target, p99 ms target)
    "issue VC-JWT": (1000, 100),
    "issue Data Integrity": (300, 100),
    "verify VC-JWT": (2000, 100),
    "verify Data Integrity": (500, 100),
}


class LockWaitSampler:
    """Samples pg_stat_activity every 50 ms in a thread: the mean number of the issuer's backends that are
    running a statement, and of those waiting on a lock (a hot row serialises the transactions)."""

    def __init__(self, url: str, database: str) -> None:
        self.url, self.database = url.replace("+asyncpg", ""), database
        self.stop = threading.Event()
        self.samples: list[tuple[int, int]] = []
        self.waits: collections.Counter[str] = collections.Counter()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        connection = await asyncpg.connect(self.url)
        query = (
            "SELECT count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE wait_event_type = 'Lock') "
            "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        )
        while not self.stop.is_set():
            active, waiting = await connection.fetchrow(query, self.database)
            self.samples.append((active, waiting))
            for row in await connection.fetch(self.waiting_query, self.database):
                self.waits[f"{row[0]}: {' '.join(row[1].split())[:90]}"] += 1
            await asyncio.sleep(0.05)
        await connection.close()

    waiting_query = "SELECT wait_event, query FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'"

    def __enter__(self) -> "LockWaitSampler":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def means(self) -> tuple[float, float]:
        if not self.samples:
            return 0.0, 0.0
        return (
            sum(a for a, _ in self.samples) / len(self.samples),
            sum(w for _, w in self.samples) / len(self.samples),
        )


def drain(admin_url: str, database: str, timeout: float = 60) -> None:
    """Wait until the issuer has finished what wrk left in flight, so one phase does not load the next."""

    async def wait() -> None:
        connection = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() "
            "AND state IN ('active', 'idle in transaction')"
        )
        deadline = asyncio.get_running_loop().time() + timeout
        quiet = 0
        while quiet < 5 and asyncio.get_running_loop().time() < deadline:
            quiet = quiet + 1 if await connection.fetchval(query, database) == 0 else 0
            await asyncio.sleep(0.1)
        await connection.close()

    asyncio.run(wait())


def server_pid(base_url: str) -> int | None:
    """The uvicorn process listening on base_url's port (found by its command line)."""
    port = base_url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in argv and b"--port" in argv and argv[argv.index(b"--port") + 1] == port.encode():
            return int(entry.name)
    return None


def _py_spy() -> str:
    """py-spy beside this interpreter, else on PATH (`uv run --with py-spy` puts it in an overlay)."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy") or str(beside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6, help="length of each load phase (at most 8)")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin repetitions of the phases (median)")
    parser.add_argument("--profile", type=Path, help="write a py-spy raw profile of the issuer per phase here")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes for the issuer (1 to 8)")
    args = parser.parse_args()
    seconds = max(1, min(args.seconds, 8))
    rounds = max(1, args.rounds)
    workers = max(1, min(args.workers, 8))
    results: dict[str, list[PostLoadResult]] = collections.defaultdict(list)
    backends: dict[str, tuple[float, float]] = {}
    signing: dict[str, float] = {}
    waits: dict[str, list[tuple[str, int]]] = {}
    with service_databases(["taxonomy", "issuer"], postgres=True) as (databases, admin_url):
        assert admin_url is not None
        with (
            issuer_stack(databases, workers=workers) as stack,
            uvicorn_server("bench.bare_post_app:create_app", {}) as bare,
        ):
            issuer, headers = stack.issuer, stack.headers
            body = stack.assessment_result()
            bodies = {fmt: json.dumps({**body, "proof_format": fmt}) for fmt in ("data-integrity", "vc-jwt")}
            samples = {}
            issued_documents = {}
            for fmt in bodies:  # one credential of each kind, checked, to verify under load
                credential = stack.issue_sample(fmt)
                issued_documents[fmt] = credential["credential"]
                samples[fmt] = presented_form(credential)
            issuer_pid = server_pid(issuer)
            phases = [
                ("bare FastAPI POST", f"{bare}/issue", bodies["vc-jwt"], {}, "Idempotency-Key", 201),
                (
                    "issue VC-JWT",
                    f"{issuer}/v1/assessment-results",
                    bodies["vc-jwt"],
                    headers,
                    "Idempotency-Key",
                    201,
                ),
                (
                    "issue Data Integrity",
                    f"{issuer}/v1/assessment-results",
                    bodies["data-integrity"],
                    headers,
                    "Idempotency-Key",
                    201,
                ),
                ("verify VC-JWT", f"{issuer}/v1/verify", json.dumps(samples["vc-jwt"]), {}, None, 200),
                (
                    "verify Data Integrity",
                    f"{issuer}/v1/verify",
                    json.dumps(samples["data-integrity"]),
                    {},
                    None,
                    200,
                ),
            ]
            signing = in_process_signing(issued_documents["data-integrity"])
            for round_number, (name, url, text, phase_headers, unique, status) in (
                (number, phase) for number in range(rounds) for phase in phases
            ):
                profiler = None
                if args.profile and issuer_pid and name != "bare FastAPI POST" and round_number == 0:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    output = args.profile / (name.replace(" ", "-").lower() + ".txt")
                    profiler = subprocess.Popen(
                        [_py_spy(), "record", "-p", str(issuer_pid)]
                        + ["-d", str(max(1, seconds - 1)), "-f", "raw", "-o", str(output), "--nonblocking"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                with LockWaitSampler(admin_url, "issuer_bench") as sampler:
                    result = wrk_post_load(
                        url,
                        headers=phase_headers,
                        body=text,
                        unique_header=unique,
                        expected_status=status,
                        connections=CONNECTIONS,
                        seconds=seconds,
                    )
                results[name].append(result)
                backends[name] = sampler.means()
                waits[name] = sampler.waits.most_common(1)
                drain(admin_url, "issuer_bench")
                if profiler:
                    profiler.wait(timeout=30)
    report(results, backends, waits, seconds, signing, workers)


def in_process_signing(document: dict) -> dict[str, float]:
    """Operations per second in this process, on the credential the issuer just issued (its proof
    removed): the Ed25519 primitive on the credential's JSON bytes, our VC-JWT and Data Integrity."""
    unsigned = {name: value for name, value in document.items() if name != "proof"}
    private_key = keys.generate_private_key("Ed25519")
    did = keys.did_key_for(private_key.public_key())
    method = keys.did_key_verification_method(did)
    unsigned = {**unsigned, "issuer": {**unsigned["issuer"], "id": did}}
    payload = json.dumps(unsigned).encode()
    token = vc_jwt.sign(unsigned, private_key, kid=method)
    signed = data_integrity.sign(unsigned, private_key, method)
    assert data_integrity.verify(signed).valid
    public_key = private_key.public_key()
    operations = {
        "bare Ed25519 sign (cryptography)": lambda: private_key.sign(payload),
        "VC-JWT sign": lambda: vc_jwt.sign(unsigned, private_key, kid=method),
        "VC-JWT verify": lambda: vc_jwt.verify(token, public_key, verify_times=False),
        "Data Integrity sign": lambda: data_integrity.sign(unsigned, private_key, method),
        "Data Integrity verify": lambda: data_integrity.verify(signed),
    }
    started = time.perf_counter()
    rates = {name: median_rate(operation, 3, 0.4) for name, operation in operations.items()}
    rates["(seconds)"] = time.perf_counter() - started
    return rates


def _median(values: list[float]) -> float:
    return statistics.median(values)


def report(
    results: dict[str, list[PostLoadResult]],
    backends: dict[str, tuple[float, float]],
    waits: dict[str, list[tuple[str, int]]],
    seconds: int,
    signing: dict[str, float],
    workers: int = 1,
) -> None:
    rounds = len(results["bare FastAPI POST"])
    bare_runs = [result.requests_per_second for result in results["bare FastAPI POST"]]
    print(
        f"\nIssuance and verification through HTTP: {CONNECTIONS} clients (wrk, 2 threads), "
        f"{workers} uvicorn worker(s) for the issuer, 1 for the others, PostgreSQL 15 on loopback, "
        f"{rounds} round(s) of one {seconds}s phase each, round-robin.\n"
        "Medians over the rounds; x bare = the median over rounds of (phase req/s / that round's bare req/s).\n"
        "Figures on a shared 2-core machine are noisy."
    )
    header = f"{'endpoint':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'!=exp':>7}{'x bare':>8}"
    print(f"{header}  target   (req/s of each round)")
    for name, runs in results.items():
        rps = _median([run.requests_per_second for run in runs])
        p50 = _median([run.p50_ms for run in runs])
        p99 = _median([run.p99_ms for run in runs])
        ratio = _median([run.requests_per_second / bare for run, bare in zip(runs, bare_runs, strict=False)])
        errors = sum(run.errors for run in runs)
        unexpected = sum(run.unexpected_status for run in runs)
        target = TARGETS.get(name)
        verdict = ""
        if target:
            verdict = (
                f">= {target[0]:,}/s {'met' if rps >= target[0] else 'MISSED'}, p99 < {target[1]} ms "
                f"{'met' if p99 < target[1] else 'MISSED'}"
            )
        each = " ".join(f"{run.requests_per_second:.0f}" for run in runs)
        figures = f"{rps:>9.0f}{p50:>9.2f}{p99:>9.2f}{errors:>9}{unexpected:>7}{ratio:>8.2f}"
        print(f"{name:<24}{figures}  {verdict}  ({each})")
    for name, runs in results.items():
        for run in runs:
            if run.first_unexpected:
                print(f"{name}: first unexpected response: {run.first_unexpected[:300]}")
                break
    bare_sign = signing.get("bare Ed25519 sign (cryptography)", 0.0)
    print("\nIn-process, this process, one core, on the issued sample credential (median of 3 x 0.4 s):")
    for name, rate in signing.items():
        if not name.startswith("("):
            print(f"  {name:<34}{rate:>10.0f}/s{rate / bare_sign:>8.3f} x bare Ed25519")
    print("\nissuer's PostgreSQL backends during each phase (mean of 50 ms samples of pg_stat_activity, last round):")
    for name, (active, waiting) in backends.items():
        if name in TARGETS:
            print(f"  {name:<24} running a statement {active:5.1f}, of which waiting on a lock {waiting:5.1f}")
            for statement, _count in waits.get(name, []):
                print(f"  {'':<24} most often waiting: {statement}")
    print("non-2xx: wrk's non-2xx/3xx responses plus socket errors; !=exp: statuses other than 201 (issue) / 200.")


if __name__ == "__main__":
    main()
