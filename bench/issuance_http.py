"""Issuance and verification through HTTP (issues 3 and 16, DESIGN.md §6): 32 concurrent clients, uvicorn
(--workers N for the issuer and the plain baselines, 1 for taxonomy_api) on PostgreSQL, beside bare FastAPI
routes, in the same run.

    uv run python bench/issuance_http.py [--seconds 6] [--rounds 3] [--workers 1] [--profile DIR] [--no-verify]

Issuance posts an assessment result (a unique Idempotency-Key per request, generated in wrk's Lua) and
must answer 201; the issuer fetches the achievement from taxonomy_api, which runs beside it. Its baseline
is the plain stack (bench/bare_issue_app.py): a bare FastAPI route that inserts one credential-sized row
with asyncpg and signs the issuer's own sample credential with the project's proofs module, VC-JWT or
eddsa-rdfc-2022, same uvicorn settings. Targets (issue 16): issuance >= 0.6x its plain baseline per proof
format with p99 < 100 ms; bulk issuance (500 items per request, 2 clients) >= 5x the single-request
VC-JWT rate per credential, no bulk request slower than 10x their median. Verification posts one fixed
issued credential to POST /v1/verify (the DI credential, and {"jwt": ...}) against the absolute targets
of issue 3. The phases run round-robin `--rounds` times; the table gives medians over the rounds, and
each ratio is the median of the per-round ratios (the machine is shared: only same-run ratios mean much).
Before the load, the bench process also times bare in-process signing on the issued sample credential.
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
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench.bench_signing import median_rate  # noqa: E402
from bench.harness import (  # noqa: E402
    PostLoadResult,
    create_database,
    issuer_stack,
    presented_form,
    service_databases,
    uvicorn_server,
    wrk_post_load,
)
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt  # noqa: E402

CONNECTIONS = 32
TARGETS = {  # name -> (req/s target, p99 ms target): issue 3's absolute targets, verification
    "verify VC-JWT": (2000, 100),
    "verify Data Integrity": (500, 100),
}
# Issue 16: issuance >= this share of its plain-stack baseline (same proof format, same run), p99 < 100 ms.
PLAIN_BASELINES = {"issue VC-JWT": "plain VC-JWT", "issue Data Integrity": "plain Data Integrity"}
PLAIN_RATIO_TARGET, ISSUE_P99_TARGET_MS = 0.6, 100
BULK_ITEMS, BULK_CLIENTS, BULK_RATIO_TARGET, BULK_TAIL_TARGET = 500, 2, 5.0, 10.0


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


@dataclass
class BulkResult:
    """Bulk requests of BULK_ITEMS items from BULK_CLIENTS clients at once: credentials issued per
    second over the phase, and each request's seconds."""

    credentials_per_second: float
    request_seconds: list[float]
    not_issued: int
    first_failure: str = ""

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.request_seconds) if self.request_seconds else 0.0

    @property
    def tail_ratio(self) -> float:
        """The slowest request over the median one."""
        return max(self.request_seconds) / self.median_seconds if self.request_seconds else 0.0


def _bulk_item(body: dict, name: str) -> dict:
    """One item of a bulk award: its own key and its own learner, as an LMS syncing a cohort sends them
    (one learner for all would let the issuer read and lock that learner's pathways once a group)."""
    return {**body, "idempotency_key": name, "learner": {"hris_id": name, "email": f"{name}@example.com"}}


def bulk_load(issuer: str, headers: dict[str, str], body: dict, seconds: int, prefix: str) -> BulkResult:
    """Each client posts batches back to back until `seconds` have passed (at least two each); every
    item has its own new idempotency_key and learner and must come back issued."""
    lock = threading.Lock()
    request_seconds: list[float] = []
    issued, not_issued, failures = [0], [0], []
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        with httpx.Client(headers=headers, timeout=300) as http:
            sent = 0
            while sent < 2 or time.monotonic() < deadline:
                items = [_bulk_item(body, f"{prefix}-{number}-{sent}-{item}") for item in range(BULK_ITEMS)]
                started = time.perf_counter()
                response = http.post(f"{issuer}/v1/assessment-results/bulk", json={"items": items})
                elapsed = time.perf_counter() - started
                sent += 1
                with lock:
                    request_seconds.append(elapsed)
                    if response.status_code != 200:
                        not_issued[0] += BULK_ITEMS
                        failures.append(f"{response.status_code} {response.text[:300]}")
                        continue
                    report = response.json()
                    issued[0] += report["issued"]
                    not_issued[0] += len(items) - report["issued"]
                    failures.extend(
                        json.dumps(item.get("problem"))[:300] for item in report["items"] if item["status"] != 201
                    )

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(number,)) for number in range(BULK_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return BulkResult(issued[0] / elapsed, request_seconds, not_issued[0], failures[0] if failures else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6, help="length of each load phase (at most 8)")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin repetitions of the phases (median)")
    parser.add_argument("--profile", type=Path, help="write a py-spy raw profile of the issuer per phase here")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers for the issuer and baselines (1-8)")
    parser.add_argument("--no-verify", action="store_true", help="leave out the verification phases")
    args = parser.parse_args()
    seconds = max(1, min(args.seconds, 8))
    rounds = max(1, args.rounds)
    workers = max(1, min(args.workers, 8))
    results: dict[str, list[PostLoadResult]] = collections.defaultdict(list)
    bulk_results: list[BulkResult] = []
    backends: dict[str, tuple[float, float]] = {}
    signing: dict[str, float] = {}
    waits: dict[str, list[tuple[str, int]]] = {}
    work = Path(tempfile.mkdtemp(prefix="credstack-bench-issue."))
    with service_databases(["taxonomy", "issuer"], postgres=True) as (databases, admin_url):
        assert admin_url is not None
        plain_database = asyncio.run(create_database(admin_url, "plain_bench"))
        with issuer_stack(databases, workers=workers) as stack:
            issuer, headers = stack.issuer, stack.headers
            body = stack.assessment_result()
            bodies = {fmt: json.dumps({**body, "proof_format": fmt}) for fmt in ("data-integrity", "vc-jwt")}
            samples = {}
            issued_documents = {}
            for fmt in bodies:  # one credential of each kind, checked, to verify under load
                credential = stack.issue_sample(fmt)
                issued_documents[fmt] = credential["credential"]
                samples[fmt] = presented_form(credential)
            template = work / "template.json"  # the plain baseline signs and stores the issuer's own credential
            template.write_text(json.dumps(issued_documents["vc-jwt"]))
            plain_env = {"BARE_ISSUE_DATABASE_URL": plain_database, "BARE_ISSUE_TEMPLATE": str(template)}
            with (
                uvicorn_server("bench.bare_post_app:create_app", {}) as bare,
                uvicorn_server("bench.bare_issue_app:create_app", plain_env, workers=workers) as plain,
            ):
                issuer_pid = server_pid(issuer)
                single = f"{issuer}/v1/assessment-results"
                phases = [
                    ("bare FastAPI POST", f"{bare}/issue", bodies["vc-jwt"], {}, "Idempotency-Key", 201),
                    ("plain VC-JWT", f"{plain}/issue/vc-jwt", bodies["vc-jwt"], {}, None, 201),
                    ("issue VC-JWT", single, bodies["vc-jwt"], headers, "Idempotency-Key", 201),
                    ("plain Data Integrity", f"{plain}/issue/data-integrity", bodies["data-integrity"], {}, None, 201),
                    ("issue Data Integrity", single, bodies["data-integrity"], headers, "Idempotency-Key", 201),
                ]
                if not args.no_verify:
                    verify = f"{issuer}/v1/verify"
                    phases += [
                        ("verify VC-JWT", verify, json.dumps(samples["vc-jwt"]), {}, None, 200),
                        ("verify Data Integrity", verify, json.dumps(samples["data-integrity"]), {}, None, 200),
                    ]
                phases.append(("bulk VC-JWT", "", "", {}, None, 200))
                signing = in_process_signing(issued_documents["data-integrity"])
                for round_number, (name, url, text, phase_headers, unique, status) in (
                    (number, phase) for number in range(rounds) for phase in phases
                ):
                    profiler = None
                    profiled = not name.startswith(("bare", "plain"))
                    if args.profile and issuer_pid and profiled and round_number == 0:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        output = args.profile / (name.replace(" ", "-").lower() + ".txt")
                        profiler = subprocess.Popen(
                            [_py_spy(), "record", "-p", str(issuer_pid)]
                            + ["-d", str(max(1, seconds - 1)), "-f", "raw", "-o", str(output), "--nonblocking"]
                            + (["--subprocesses"] if workers > 1 else []),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    with LockWaitSampler(admin_url, "issuer_bench") as sampler:
                        if name.startswith("bulk"):
                            prefix = f"bulk-{time.time_ns():x}"
                            vc_jwt_body = {**body, "proof_format": "vc-jwt"}
                            bulk_results.append(bulk_load(issuer, headers, vc_jwt_body, seconds, prefix))
                        else:
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
    shutil.rmtree(work, ignore_errors=True)
    report(results, backends, waits, seconds, signing, workers, bulk_results)


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
    bulk_results: list[BulkResult] | None = None,
) -> None:
    rounds = len(results["bare FastAPI POST"])
    bare_runs = [result.requests_per_second for result in results["bare FastAPI POST"]]
    print(
        f"\nIssuance and verification through HTTP: {CONNECTIONS} clients (wrk, 2 threads), "
        f"{workers} uvicorn worker(s) for the issuer and the plain baselines, 1 for the others, PostgreSQL 15 on "
        f"loopback, {rounds} round(s) of one {seconds}s phase each, round-robin.\n"
        "Medians over the rounds; x bare / x plain = the median over rounds of (phase req/s / that round's "
        "bare FastAPI POST / plain-stack baseline of the same proof format).\nFigures on a shared 2-core machine "
        "are noisy."
    )
    header = f"{'endpoint':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'!=exp':>7}{'x bare':>8}"
    print(f"{header}{'x plain':>8}  target   (req/s of each round)")
    for name, runs in results.items():
        rps = _median([run.requests_per_second for run in runs])
        p50 = _median([run.p50_ms for run in runs])
        p99 = _median([run.p99_ms for run in runs])
        ratio = _median([run.requests_per_second / bare for run, bare in zip(runs, bare_runs, strict=False)])
        errors = sum(run.errors for run in runs)
        unexpected = sum(run.unexpected_status for run in runs)
        target = TARGETS.get(name)
        verdict, plain_ratio = "", ""
        if target:
            verdict = (
                f">= {target[0]:,}/s {'met' if rps >= target[0] else 'MISSED'}, p99 < {target[1]} ms "
                f"{'met' if p99 < target[1] else 'MISSED'}"
            )
        baseline = PLAIN_BASELINES.get(name)
        if baseline in results:
            plains = [run.requests_per_second for run in results[baseline]]
            share = _median([run.requests_per_second / plain for run, plain in zip(runs, plains, strict=False)])
            plain_ratio = f"{share:.2f}"
            verdict = (
                f">= {PLAIN_RATIO_TARGET}x plain {'met' if share >= PLAIN_RATIO_TARGET else 'MISSED'}, "
                f"p99 < {ISSUE_P99_TARGET_MS} ms {'met' if p99 < ISSUE_P99_TARGET_MS else 'MISSED'}"
            )
        each = " ".join(f"{run.requests_per_second:.0f}" for run in runs)
        figures = f"{rps:>9.0f}{p50:>9.2f}{p99:>9.2f}{errors:>9}{unexpected:>7}{ratio:>8.2f}{plain_ratio:>8}"
        print(f"{name:<24}{figures}  {verdict}  ({each})")
    for name, runs in results.items():
        for run in runs:
            if run.first_unexpected:
                print(f"{name}: first unexpected response: {run.first_unexpected[:300]}")
                break
    if bulk_results:
        report_bulk(bulk_results, results.get("issue VC-JWT", []))
    bare_sign = signing.get("bare Ed25519 sign (cryptography)", 0.0)
    print("\nIn-process, this process, one core, on the issued sample credential (median of 3 x 0.4 s):")
    for name, rate in signing.items():
        if not name.startswith("("):
            print(f"  {name:<34}{rate:>10.0f}/s{rate / bare_sign:>8.3f} x bare Ed25519")
    print("\nissuer's PostgreSQL backends during each phase (mean of 50 ms samples of pg_stat_activity, last round):")
    for name, (active, waiting) in backends.items():
        if name in TARGETS or name in PLAIN_BASELINES or name.startswith("bulk"):
            print(f"  {name:<24} running a statement {active:5.1f}, of which waiting on a lock {waiting:5.1f}")
            for statement, _count in waits.get(name, []):
                print(f"  {'':<24} most often waiting: {statement}")
    print("non-2xx: wrk's non-2xx/3xx responses plus socket errors; !=exp: statuses other than 201 (issue) / 200.")


def report_bulk(bulk_results: list[BulkResult], singles: list[PostLoadResult]) -> None:
    """Bulk VC-JWT per credential against the single POST of the same round, and its slowest request."""
    rate = _median([run.credentials_per_second for run in bulk_results])
    pairs = zip(bulk_results, singles, strict=False)
    ratios = [run.credentials_per_second / single.requests_per_second for run, single in pairs]
    ratio = _median(ratios) if ratios else 0.0
    median_seconds = _median([run.median_seconds for run in bulk_results])
    slowest = max(max(run.request_seconds) for run in bulk_results)
    tail = max(run.tail_ratio for run in bulk_results)
    requests = sum(len(run.request_seconds) for run in bulk_results)
    not_issued = sum(run.not_issued for run in bulk_results)
    print(
        f"\nbulk VC-JWT ({BULK_ITEMS} items a request, {BULK_CLIENTS} clients, {requests} requests): "
        f"{rate:.0f} credentials/s, {ratio:.2f}x the single POST's req/s "
        f"(>= {BULK_RATIO_TARGET}x {'met' if ratio >= BULK_RATIO_TARGET else 'MISSED'}); request median "
        f"{median_seconds:.2f} s, slowest {slowest:.2f} s = {tail:.2f}x its round's median "
        f"(<= {BULK_TAIL_TARGET}x {'met' if tail <= BULK_TAIL_TARGET else 'MISSED'}); items not issued: {not_issued}"
        f"  (credentials/s of each round: {' '.join(f'{run.credentials_per_second:.0f}' for run in bulk_results)})"
    )
    for run in bulk_results:
        if run.first_failure:
            print(f"bulk: first item not issued: {run.first_failure}")
            break


if __name__ == "__main__":
    main()
