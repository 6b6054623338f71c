"""Verification through HTTP per proof type (issues 16 and 17, DESIGN.md §6): POST /v1/verify under 32
concurrent clients (wrk), beside the in-process verify rate of the same credential and a bare FastAPI
POST endpoint, in the same run.

    uv run python bench/verify_http.py [--seconds 5] [--rounds 2] [--postgres]

taxonomy_api, the badge issuer and bench/bare_post_app.py run under uvicorn (1 worker each) on loopback,
on SQLite files (or, with --postgres, a throwaway PostgreSQL 15 from scripts/temp-postgres). Each proof
type's credential is made once: our own VC-JWT and Data Integrity credentials issued through the running
issuer; third-party ones by Digital Bazaar's and panva/jose's signers through Node
(tests/interop/node/sign-suites.mjs: `npm ci --prefix tests/interop/node` first, or those types are
skipped), over documents written in the specifications' shapes (tests/badge_issuer/spec_documents.py:
the legacy eddsa-2022 one, the CLR 2.0 transcript); Open Badges 2.0 assertions made here from the same
module's OB 2.0 badge.
Every document a credential names (an OB 2.0 BadgeClass, issuer Profile, key and revocation list, the
CLR's controller document) is pinned for the issuer (CREDSTACK_ISSUER_FETCH_PINNED_DOCUMENTS), so
nothing is fetched from the network: all traffic is on loopback.

Each round: the bare endpoint (the Data Integrity credential's JSON, answering 201), then per proof type
wrk on POST /v1/verify for --seconds, then verify_presented in this process (one core, a session and a
commit per call as the endpoint does) on the same credential for at most --seconds. The table gives
medians over the rounds; HTTP/in-proc and x bare are medians of the per-round ratios.
Target (issue 16): HTTP >= 0.6 x the in-process rate of the same run. To add a proof type, add one
entry to PROOF_TYPES.
"""

import argparse
import asyncio
import copy
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import jwt  # noqa: E402

from bench.harness import (  # noqa: E402
    REPO,
    IssuerStack,
    PostLoadResult,
    issuer_stack,
    presented_form,
    service_databases,
    uvicorn_server,
    wrk_post_load,
)
from services.badge_issuer.app import create_app as create_issuer_app  # noqa: E402
from services.badge_issuer.domain.verification import verify_presented  # noqa: E402
from services.badge_issuer.proofs import keys  # noqa: E402
from services.badge_issuer.settings import IssuerSettings  # noqa: E402
from shared.schemas.issuer import VerificationOut  # noqa: E402
from tests.badge_issuer import spec_documents  # noqa: E402

CONNECTIONS = 32
TARGET_RATIO = 0.6
MAX_IN_PROCESS_CALLS = 50_000  # per measurement, besides its time bound
DATA = REPO / "tests" / "badge_issuer" / "data"
NODE_DIR = REPO / "tests" / "interop" / "node"
OB2_ORIGIN = "https://badges.example"  # the OB 2.0 badge's ids, served as pinned documents


class Skipped(Exception):
    """A proof type's credential cannot be made on this machine (the message says why)."""


class Credentials:
    """Where the credentials come from: the running issuer, Node's third-party signers and the OB 2.0
    badge; `pins` are the documents they name, for the issuer to serve."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stack: IssuerStack | None = None
        self.ob2 = Ob2Badge()
        self.pins: dict[str, Path] = {}
        for url, document in self.ob2.documents().items():
            self.pin(url, document)
        # The CLR is signed before the issuer starts: its key's controller document is pinned.
        self.clr: dict[str, Any] | Skipped
        try:
            self.clr = self.node(
                "eddsa-rdfc-2022",
                spec_documents.clr_credential(),
                controller=spec_documents.CLR_ISSUER,
                signNested=True,
            )
        except Skipped as reason:
            self.clr = reason
        else:
            clr_method = self.clr["proof"]["verificationMethod"]
            self.pin(clr_method.split("#", 1)[0], controller_document(clr_method))

    def pin(self, url: str, document: Any) -> None:
        path = self.folder / f"pinned-{len(self.pins)}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        self.pins[url] = path

    def issued(self, proof_format: str) -> dict[str, Any]:
        assert self.stack is not None
        return presented_form(self.stack.issue_sample(proof_format))

    def signed_clr(self) -> dict[str, Any]:
        if isinstance(self.clr, Skipped):
            raise self.clr
        return self.clr

    @staticmethod
    def node(form: str, credential: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
        """`credential` (by default the sample one) signed by tests/interop/node/sign-suites.mjs in `form`."""
        node = shutil.which("node")
        if node is None or not (NODE_DIR / "node_modules").is_dir():
            raise Skipped("needs node and `npm ci --prefix tests/interop/node`")
        if credential is None:
            credential = json.loads((DATA / "sample-credential.json").read_text(encoding="utf-8"))
        completed = subprocess.run(
            [node, str(NODE_DIR / "sign-suites.mjs")],
            input=json.dumps({"form": form, "credential": credential, **options}),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return presented_form(json.loads(completed.stdout))


def controller_document(method_id: str) -> dict[str, Any]:
    """What an https verification method named by its Multikey fragment would resolve to: a controller
    document at the URL listing that key for assertions."""
    url, _, multikey = method_id.partition("#")
    method = {"id": method_id, "type": "Multikey", "controller": url, "publicKeyMultibase": multikey}
    return {
        "@context": "https://www.w3.org/ns/cid/v1",
        "id": url,
        "verificationMethod": [method],
        "assertionMethod": [method_id],
    }


class Ob2Badge:
    """An OB 2.0 assertion, BadgeClass and issuer Profile (tests/badge_issuer/spec_documents.py) at
    OB2_ORIGIN; the Profile also lists an RSA key and a revocation list, so the badge is shown hosted (the
    assertion's JSON) and signed (an RS256 JWS of a urn:uuid copy, as tests/badge_issuer/test_verify_ob2.py
    makes)."""

    def __init__(self) -> None:
        self.private_key = keys.generate_private_key("RSA")
        self.key_url, self.revocation_url = f"{OB2_ORIGIN}/keys/1", f"{OB2_ORIGIN}/revocations"
        self.hosted, self.badge_class, issuer = spec_documents.ob2_badge(OB2_ORIGIN)
        self.issuer = {**issuer, "publicKey": self.key_url, "revocationList": self.revocation_url}
        self.signed = {
            **copy.deepcopy(self.hosted),
            "id": f"urn:uuid:{uuid.uuid4()}",
            "verification": {"type": "SignedBadge", "creator": self.key_url},
        }

    def documents(self) -> dict[str, Any]:
        context = "https://w3id.org/openbadges/v2"
        pem = keys.public_key_to_pem(self.private_key.public_key()).decode()
        key = {"@context": context, "type": "CryptographicKey", "id": self.key_url, "publicKeyPem": pem}
        revocations = {"@context": context, "id": self.revocation_url, "type": "RevocationList"}
        return {
            self.hosted["id"]: self.hosted,
            self.badge_class["id"]: self.badge_class,
            self.issuer["id"]: self.issuer,
            self.key_url: {**key, "owner": self.issuer["id"]},
            self.revocation_url: {**revocations, "issuer": self.issuer["id"], "revokedAssertions": ["urn:uuid:x"]},
        }

    def jws(self) -> dict[str, str]:
        payload = json.dumps(self.signed).encode()
        return {"jwt": jwt.PyJWS().encode(payload, self.private_key, algorithm="RS256")}


@dataclass(frozen=True)
class ProofType:
    name: str
    made_by: str
    make: Callable[[Credentials], dict[str, Any]]
    """The body POSTed to /v1/verify."""


PROOF_TYPES = (
    ProofType("VC-JWT EdDSA (our key)", "this issuer", lambda c: c.issued("vc-jwt")),
    ProofType("VC-JWT EdDSA, jwk header", "panva/jose", lambda c: c.node("jwt-jwk")),
    ProofType("eddsa-rdfc-2022", "this issuer", lambda c: c.issued("data-integrity")),
    ProofType(
        "eddsa-2022 (legacy)",
        "Digital Bazaar",
        lambda c: c.node(
            "eddsa-2022",
            spec_documents.alumni_credential(),
            controller=spec_documents.ALUMNI_ISSUER,
            untypedCryptosuite=True,  # as signed in 2022-23: verified on the second reading
        ),
    ),
    ProofType("ecdsa-rdfc-2019 P-256", "Digital Bazaar", lambda c: c.node("ecdsa-rdfc-2019")),
    ProofType("Ed25519Signature2020", "Digital Bazaar", lambda c: c.node("Ed25519Signature2020")),
    ProofType("CLR 2.0, 1 nested", "Digital Bazaar", lambda c: c.signed_clr()),
    ProofType("OB 2.0 signed (RS256)", "made here", lambda c: c.ob2.jws()),
    ProofType("OB 2.0 hosted", "made here", lambda c: c.ob2.hosted),
)


@dataclass
class Measured:
    proof_type: ProofType
    body: str
    outcome: str
    http: list[PostLoadResult]
    in_process: list[float]


def outcome_of(result: VerificationOut) -> str:
    """verified or not, with the codes of the checks that did not pass."""
    codes = [f"{check.check}:{check.code or check.outcome}" for check in result.checks if check.outcome != "passed"]
    return ("verified" if result.verified else "NOT verified") + (f" ({', '.join(codes)})" if codes else "")


async def in_process_rate(app: Any, presented: dict[str, Any], seconds: float) -> tuple[float, VerificationOut]:
    """verify_presented calls per second, one after another, each in its own session and commit."""
    state = app.state

    async def once() -> VerificationOut:
        async with state.database.sessions() as session:
            result = await verify_presented(
                session,
                presented,
                vault=state.key_vault,
                base_url=state.settings.public_base_url,
                fetcher=state.fetcher,
            )
            await session.commit()
        return result

    result = await once()
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while count < MAX_IN_PROCESS_CALLS:
        await once()
        count += 1
        if time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - started), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help="length of each load phase (1 to 10)")
    parser.add_argument("--rounds", type=int, default=2, help="round-robin repetitions (median)")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite files")
    args = parser.parse_args()
    seconds, rounds = max(1, min(args.seconds, 10)), max(1, min(args.rounds, 10))
    folder = Path(tempfile.mkdtemp(prefix="credstack-bench-verify."))
    credentials = Credentials(folder)
    pins = json.dumps({url: str(path) for url, path in credentials.pins.items()})
    measured: list[Measured] = []
    skipped: list[str] = []
    bare_runs: list[PostLoadResult] = []
    page_runs: list[PostLoadResult] = []
    started_run = time.perf_counter()
    try:
        with (
            service_databases(["taxonomy", "issuer"], postgres=args.postgres) as (databases, _),
            issuer_stack(databases, issuer_env={"CREDSTACK_ISSUER_FETCH_PINNED_DOCUMENTS": pins}) as stack,
            uvicorn_server("bench.bare_post_app:create_app", {}) as bare,
            asyncio.Runner() as runner,
        ):
            credentials.stack = stack
            app = create_issuer_app(
                IssuerSettings(
                    database_url=databases["issuer"],
                    taxonomy_url=stack.taxonomy,
                    master_key=stack.master_key,
                    auth_private_key_file=stack.auth_key_file,
                    access_log=False,
                    log_level="WARNING",  # httpx logs every request at INFO
                    fetch_pinned_documents=credentials.pins,
                )
            )
            for proof_type in PROOF_TYPES:
                try:
                    presented = proof_type.make(credentials)
                except Skipped as reason:
                    skipped.append(f"{proof_type.name}: {reason}")
                    continue
                body = json.dumps(presented)
                _, result = runner.run(in_process_rate(app, presented, 0))
                answer = VerificationOut.model_validate_json(httpx_verify(stack.issuer, body))
                assert answer.verified == result.verified, (proof_type.name, answer.failures, result.failures)
                measured.append(Measured(proof_type, body, outcome_of(result), [], []))
            bare_body = next(m.body for m in measured if m.proof_type.name == "eddsa-rdfc-2022")
            page_form = urlencode({"credential": bare_body})
            for number in range(rounds):
                bare_runs.append(load(f"{bare}/issue", bare_body, 201, seconds))
                # The verify page's POST (issue 14): the same credential pasted into the form, HTML back.
                page_runs.append(
                    wrk_post_load(
                        f"{stack.issuer}/verify",
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                        body=page_form,
                        expected_status=200,
                        connections=CONNECTIONS,
                        seconds=seconds,
                    )
                )
                for entry in measured:
                    entry.http.append(load(f"{stack.issuer}/v1/verify", entry.body, 200, seconds))
                    rate, _ = runner.run(in_process_rate(app, json.loads(entry.body), seconds))
                    entry.in_process.append(rate)
                    print(
                        f"round {number + 1}: {entry.proof_type.name}: "
                        f"HTTP {entry.http[-1].requests_per_second:.0f}/s, in process {rate:.0f}/s",
                        file=sys.stderr,
                        flush=True,
                    )
            runner.run(close(app))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(measured, bare_runs, skipped, seconds, "PostgreSQL 15" if args.postgres else "SQLite")
    report_page(measured, page_runs)
    print(f"(whole run {time.perf_counter() - started_run:.0f} s)")


def report_page(measured: list[Measured], page_runs: list[PostLoadResult]) -> None:
    """The verify page's POST beside POST /v1/verify of the same credential, same rounds."""
    median = statistics.median
    api = next(m for m in measured if m.proof_type.name == "eddsa-rdfc-2022")
    ratio = median(
        page.requests_per_second / run.requests_per_second for page, run in zip(page_runs, api.http, strict=True)
    )
    rate, p50, p99 = (
        median(getattr(r, field) for r in page_runs) for field in ("requests_per_second", "p50_ms", "p99_ms")
    )
    print(
        f"verify page POST (HTML, eddsa-rdfc-2022): {rate:.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
        f"x POST /v1/verify of the same credential {ratio:.2f}"
    )


def httpx_verify(issuer: str, body: str) -> bytes:
    response = httpx.post(f"{issuer}/v1/verify", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.content


def load(url: str, body: str, status: int, seconds: int) -> PostLoadResult:
    return wrk_post_load(url, headers={}, body=body, expected_status=status, connections=CONNECTIONS, seconds=seconds)


async def close(app: Any) -> None:
    await app.state.taxonomy.http.aclose()
    await app.state.fetcher.aclose()
    await app.state.database.dispose()


def report(
    measured: list[Measured], bare_runs: list[PostLoadResult], skipped: list[str], seconds: int, db: str
) -> None:
    median = statistics.median
    bare = median(run.requests_per_second for run in bare_runs)
    print(
        f"\nVerification through HTTP, POST /v1/verify: {CONNECTIONS} clients (wrk, 2 threads), uvicorn 1 worker, "
        f"{db}, {len(bare_runs)} round(s) of {seconds}s per phase, round-robin; in process: verify_presented "
        "in the bench process, one call at a time (one core), for the same time.\n"
        "Medians over rounds; HTTP/in-proc and x bare are medians of the per-round ratios. "
        "Shared 2-core machine: noisy."
    )
    header = f"{'proof type':<26}{'made by':<16}{'bytes':>6}{'HTTP/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
    print(f"{header}{'in-proc/s':>10}{'HTTP/in':>8}{'x bare':>7}  target >= {TARGET_RATIO}  (HTTP/s each round)")
    for entry in measured:
        http = median(run.requests_per_second for run in entry.http)
        ratio = median(run.requests_per_second / rate for run, rate in zip(entry.http, entry.in_process, strict=True))
        x_bare = median(
            run.requests_per_second / b.requests_per_second for run, b in zip(entry.http, bare_runs, strict=True)
        )
        bad = sum(run.errors + run.unexpected_status for run in entry.http)
        figures = (
            f"{len(entry.body):>6}{http:>8.0f}{median(r.p50_ms for r in entry.http):>8.2f}"
            f"{median(r.p99_ms for r in entry.http):>8.2f}{median(entry.in_process):>10.0f}{ratio:>8.2f}{x_bare:>7.2f}"
        )
        verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
        each = " ".join(f"{run.requests_per_second:.0f}" for run in entry.http)
        errors = f"  {bad} non-200/errors" if bad else ""
        print(f"{entry.proof_type.name:<26}{entry.proof_type.made_by:<16}{figures}  {verdict:<12}  ({each}){errors}")
    p50 = median(run.p50_ms for run in bare_runs)
    p99 = median(run.p99_ms for run in bare_runs)
    each = " ".join(f"{run.requests_per_second:.0f}" for run in bare_runs)
    print(
        f"{'bare FastAPI POST':<26}{'bench/bare_post':<16}{'':>6}{bare:>8.0f}{p50:>8.2f}{p99:>8.2f}{'':>25}  ({each})"
    )
    print("\nWhat each answered (in process and through HTTP alike):")
    for entry in measured:
        print(f"  {entry.proof_type.name:<26}{entry.outcome}")
    for line in skipped:
        print(f"  skipped: {line}")


if __name__ == "__main__":
    main()
