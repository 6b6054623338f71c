"""Shared benchmark plumbing: a throwaway PostgreSQL (or SQLite files), services under uvicorn, the
issuer with taxonomy_api beside it and one organisation, and wrk for load.

Benchmarks are not tests: they print figures. Load comes from wrk (Debian package, installed here if
missing) on loopback, bounded in time; every comparison is measured in the same run, rounds interleaved.
"""

import asyncio
import base64
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from shared.auth import TokenAuthority, load_or_create_private_key
from shared.db import Database
from shared.migrations import upgrade

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def temporary_postgres() -> Iterator[str]:
    """A PostgreSQL 15 server in a temp dir (scripts/temp-postgres); yields its admin URL."""
    folder = tempfile.mkdtemp(prefix="credstack-bench-pg.")
    script = str(REPO / "scripts" / "temp-postgres")
    url = subprocess.run([script, "start", folder, str(free_port())], check=True, capture_output=True, text=True)
    try:
        yield url.stdout.strip()
    finally:
        subprocess.run([script, "stop", folder], check=False)


async def create_database(admin_url: str, name: str) -> str:
    connection = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def service_databases(names: list[str], *, postgres: bool) -> Iterator[tuple[dict[str, str], str | None]]:
    """One empty database per name: on a throwaway PostgreSQL (also yields its admin URL), or SQLite
    files in a temp dir (admin URL None)."""
    if not postgres:
        folder = Path(tempfile.mkdtemp(prefix="credstack-bench-sqlite."))
        try:
            yield {name: f"sqlite+aiosqlite:///{folder / name}.db" for name in names}, None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with temporary_postgres() as admin_url:
        yield {name: asyncio.run(create_database(admin_url, f"{name}_bench")) for name in names}, admin_url


@contextlib.contextmanager
def uvicorn_server(
    target: str, env: dict[str, str], *, workers: int = 1, factory: bool = True, port: int | None = None
) -> Iterator[str]:
    """Run `target` under uvicorn in a subprocess; yields its base URL once /healthz (or /) answers.
    `port` when the service must know its own URL beforehand (a public base URL it signs into documents)."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a loaded machine imports slowly
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code < 500:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{target} did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Platform:
    """The three services under uvicorn on one throwaway PostgreSQL: their base URLs, their databases,
    the token authority every service trusts, and the master keys the issuer and gap engine seal with."""

    taxonomy: str
    issuer: str
    gap: str
    databases: dict[str, str]
    authority: TokenAuthority
    key_file: Path
    issuer_master_key: str
    gap_master_key: str


@contextlib.asynccontextmanager
async def three_services(
    *, issuer_env: dict[str, str] | None = None, gap_env: dict[str, str] | None = None
) -> AsyncIterator[Platform]:
    """taxonomy_api, the badge issuer (its outbox worker in it) and the gap engine, each 1 worker at its
    defaults plus the given settings (the issuer's and the gap engine's URLs of the others are set)."""
    key_file = Path(tempfile.mkdtemp(prefix="credstack-bench.")) / "auth.pem"
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=True), issuer="credstack", audience="credstack", ttl_seconds=3600
    )
    issuer_key, gap_key = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    with temporary_postgres() as admin_url:
        dbs = {name: await create_database(admin_url, f"{name}_bench") for name in ("taxonomy", "issuer", "gap")}
        for service, name in (("taxonomy_api", "taxonomy"), ("badge_issuer", "issuer"), ("gap_engine", "gap")):
            await asyncio.to_thread(upgrade, service, dbs[name])
        common = {"CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file), "CREDSTACK_LOG_LEVEL": "WARNING"}
        taxonomy_settings = {
            **common,
            "CREDSTACK_TAXONOMY_DATABASE_URL": dbs["taxonomy"],
            "CREDSTACK_TAXONOMY_ACCESS_LOG": "false",
        }
        with uvicorn_server("services.taxonomy_api.app:create_app", taxonomy_settings) as taxonomy:
            issuer_settings = {
                **common,
                "CREDSTACK_ISSUER_DATABASE_URL": dbs["issuer"],
                "CREDSTACK_ISSUER_ACCESS_LOG": "false",
                "CREDSTACK_ISSUER_TAXONOMY_URL": taxonomy,
                "CREDSTACK_ISSUER_MASTER_KEY": issuer_key,
                **(issuer_env or {}),
            }
            with uvicorn_server("services.badge_issuer.app:create_app", issuer_settings) as issuer:
                gap_settings = {
                    **common,
                    "CREDSTACK_GAP_DATABASE_URL": dbs["gap"],
                    "CREDSTACK_GAP_ACCESS_LOG": "false",
                    "CREDSTACK_GAP_TAXONOMY_URL": taxonomy,
                    "CREDSTACK_GAP_ISSUER_URL": issuer,
                    "CREDSTACK_GAP_MASTER_KEY": gap_key,
                    **(gap_env or {}),
                }
                with uvicorn_server("services.gap_engine.app:create_app", gap_settings) as gap:
                    yield Platform(taxonomy, issuer, gap, dbs, authority, key_file, issuer_key, gap_key)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


@dataclass
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk_load(url: str, *, headers: dict[str, str], connections: int = 32, seconds: int = 8) -> LoadResult:
    """GET `url` with `connections` keep-alive clients for `seconds`; p50/p99 from wrk's latency table."""
    command = [ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    return parse_wrk_output(output)


def parse_wrk_output(output: str) -> LoadResult:
    """req/s, p50/p99 and errors (non-2xx/3xx plus socket errors) from wrk's --latency report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return LoadResult(rps, p50, p99, errors)


def median_result(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
    )


@dataclass
class PostLoadResult(LoadResult):
    """`errors` counts every failure; `unexpected_status` the responses whose status was not the expected one."""

    unexpected_status: int
    requests: int
    first_unexpected: str = ""


_POST_SCRIPT = r"""
-- POST the body read from args[1]; a unique header (args[3] .. thread id .. counter) on every request
-- when args[2] names one; counts responses whose status is not args[4].
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  body = file:read("*a")
  file:close()
  unique = args[2] ~= "" and args[2] or nil
  prefix = args[3]
  expected = tonumber(args[4])
  counter = 0
  unexpected = 0
  headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = headers["Content-Type"] or "application/json"
end

function request()
  counter = counter + 1
  if unique then headers[unique] = prefix .. "-" .. id .. "-" .. counter end
  return wrk.format("POST", nil, headers, body)
end

function response(status, response_headers, response_body)
  if status ~= expected then
    unexpected = unexpected + 1
    if not first then first = status .. " " .. string.sub(response_body or "", 1, 300) end
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
    local sample = thread:get("first")
    if sample then io.write("First unexpected: " .. string.gsub(sample, "\n", " ") .. "\n") end
  end
  io.write(string.format("Unexpected status: %d\n", total))
end
"""


def wrk_post_load(
    url: str,
    *,
    headers: dict[str, str],
    body: str,
    unique_header: str | None = None,
    expected_status: int = 200,
    connections: int = 32,
    seconds: int = 8,
) -> PostLoadResult:
    """POST `body` (JSON unless `headers` names another Content-Type) to `url` with `connections`
    keep-alive clients for `seconds` through a wrk Lua script;
    `unique_header` (e.g. Idempotency-Key) gets a value unique to every request of the run."""
    folder = Path(tempfile.mkdtemp(prefix="credstack-bench-wrk."))
    script, body_file = folder / "post.lua", folder / "body.json"
    script.write_text(_POST_SCRIPT)
    body_file.write_text(body)
    prefix = f"{time.time_ns():x}"
    command = [ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    command += ["-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += [url, "--", str(body_file), unique_header or "", prefix, str(expected_status)]
    try:
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load = parse_wrk_output(output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    unexpected = int(re.search(r"Unexpected status: (\d+)", output).group(1))  # type: ignore[union-attr]
    sample = re.search(r"First unexpected: (.*)", output)
    return PostLoadResult(
        load.requests_per_second,
        load.p50_ms,
        load.p99_ms,
        load.errors,
        unexpected,
        requests,
        sample.group(1) if sample else "",
    )


async def seed_organisation(taxonomy_url: str, name: str) -> tuple[uuid.UUID, str]:
    """An organisation with the demo taxonomy; returns its id and the foundational badge's achievement id."""
    database = Database(taxonomy_url, session_class=TaxonomySession)
    async with database.sessions() as session:
        organisation = await organisations.create_organisation(session, name)
        ids = await seed_demo_taxonomy(session, organisation.id)
        await session.commit()
    await database.dispose()
    return organisation.id, str(ids["badge:Active listening"])


@dataclass
class IssuerStack:
    """taxonomy_api and the badge issuer running, one organisation and one issuer profile in them."""

    taxonomy: str
    issuer: str
    headers: dict[str, str]
    """An admin token of the organisation (assessments:write, credentials:read, taxonomy:read)."""
    org_id: uuid.UUID
    achievement_id: str
    issuer_id: str
    auth_key_file: Path
    master_key: str

    def assessment_result(self, **fields: Any) -> dict[str, Any]:
        """The body of POST /v1/assessment-results for one learner of the foundational badge."""
        return {
            "learner": {"hris_id": "E-1001", "email": "ada@example.com"},
            "achievement_id": self.achievement_id,
            "issuer_id": self.issuer_id,
            "score": 86,
            "evidence": {"urls": ["https://lms.example/attempts/4711"], "narrative": "Observed call."},
            "assessor": "Grace Hopper",
            "completed_at": "2026-01-15T09:30:00Z",
            **fields,
        }

    def issue_sample(self, proof_format: str) -> dict[str, Any]:
        """One credential issued through HTTP and checked by POST /v1/verify; the issuer's answer."""
        body = self.assessment_result(proof_format=proof_format)
        headers = {**self.headers, "Idempotency-Key": f"sample-{proof_format}"}
        issued = httpx.post(f"{self.issuer}/v1/assessment-results", json=body, headers=headers, timeout=30)
        assert issued.status_code == 201, issued.text
        credential = issued.json()["credential"]
        check = httpx.post(f"{self.issuer}/v1/verify", json=presented_form(credential), timeout=30)
        assert check.status_code == 200 and check.json()["verified"], check.text
        return credential


def presented_form(credential: dict[str, Any]) -> dict[str, Any]:
    """What a holder shows of an issued credential: {"jwt": ...} for a VC-JWT, else the document."""
    return {"jwt": credential["jwt"]} if credential.get("jwt") else credential["credential"]


@contextlib.contextmanager
def issuer_stack(
    databases: dict[str, str], *, issuer_env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[IssuerStack]:
    """Migrate `databases` ("taxonomy", "issuer"), seed an organisation, run taxonomy_api (1 worker) and
    the issuer (`workers`) under uvicorn with the public rate limit lifted, and create an issuer profile."""
    work = Path(tempfile.mkdtemp(prefix="credstack-bench."))
    key_file = work / "auth.pem"
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=True), issuer="credstack", audience="credstack", ttl_seconds=3600
    )
    upgrade("taxonomy_api", databases["taxonomy"])
    upgrade("badge_issuer", databases["issuer"])
    org_id, achievement_id = asyncio.run(seed_organisation(databases["taxonomy"], "Bench Academy"))
    scopes = frozenset({"admin", "assessments:write", "taxonomy:read", "credentials:read"})
    headers = {"Authorization": f"Bearer {authority.issue(org_id=org_id, client_id='bench', scopes=scopes)}"}
    master_key = base64.b64encode(os.urandom(32)).decode()
    shared_env = {"CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file), "CREDSTACK_LOG_LEVEL": "WARNING"}
    taxonomy_env = {
        **shared_env,
        "CREDSTACK_TAXONOMY_DATABASE_URL": databases["taxonomy"],
        "CREDSTACK_TAXONOMY_ACCESS_LOG": "false",
    }
    try:
        with uvicorn_server("services.taxonomy_api.app:create_app", taxonomy_env) as taxonomy:
            env = {
                **shared_env,
                "CREDSTACK_ISSUER_DATABASE_URL": databases["issuer"],
                "CREDSTACK_ISSUER_ACCESS_LOG": "false",
                "CREDSTACK_ISSUER_TAXONOMY_URL": taxonomy,
                "CREDSTACK_ISSUER_MASTER_KEY": master_key,
                "CREDSTACK_ISSUER_PUBLIC_RATE_LIMIT_PER_MINUTE": str(10**9),  # the public limit would shed the load
                **(issuer_env or {}),
            }
            with uvicorn_server("services.badge_issuer.app:create_app", env, workers=workers) as issuer:
                created = httpx.post(
                    f"{issuer}/v1/issuers",
                    json={"name": "Bench Academy", "url": "https://academy.example", "email": "badges@academy.example"},
                    headers={**headers, "Idempotency-Key": "bench-issuer"},
                )
                assert created.status_code == 201, created.text
                yield IssuerStack(
                    taxonomy, issuer, headers, org_id, achievement_id, created.json()["id"], key_file, master_key
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
