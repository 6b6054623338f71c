# ruff: noqa: S603 - every command here is a fixed program of this repository or Debian, with our own arguments
"""A CredStack cluster of real processes on loopback: one PostgreSQL, N replicas of each service, and
optionally haproxy in front, for tests (tests/cluster/, tests/faults/) and benchmarks (bench/scale_out.py).

    from tests.cluster import cluster

    with cluster(replicas=2) as platform:          # balancer=True by default
        issuer = platform.url("badge_issuer")      # haproxy's frontend (or the only replica without one)
        headers = platform.bearer(org_id)          # an admin token every service accepts
        platform.replicas["badge_issuer"][0].kill()     # kill -9 of one replica (its whole process group)
        platform.replicas["badge_issuer"][0].start()    # the same replica again, same port; waits for /readyz
        platform.postgres.restart()                # fast shutdown + start; or .stop() ... .start() for an outage
        platform.sql("badge_issuer", "SELECT count(*) FROM credentials")  # rows (await platform.fetch(…) in a loop)

`cluster(replicas=N, balancer=True, env={service: {NAME: value}}, postgres_url=None, client_addresses=(),
subset_sizes=())`:
- PostgreSQL: `postgres_url` (an admin URL, e.g. CREDSTACK_TEST_POSTGRES_URL) is reused, else a throwaway
  server is started with scripts/temp-postgres (only that one can be stopped and restarted). Each cluster
  gets three new databases, migrated once, and drops them at the end.
- Replicas: `python -m services.cli run SERVICE --port P` (what `credstack run` runs), settings from the
  environment only, in a process group of their own; stdout/stderr in `platform.work / "<name>.log"`.
  Every replica of a service shares its database, the token signing key and the master key; their public
  base URLs are the balancer's, so what one replica signs the other serves.
- Balancer: haproxy (scripts/ensure-haproxy installs it), one frontend port per service, round robin per
  request, health checks on /readyz every 0.5 s (down after 3 failures or 2 s timeouts); errors in haproxy.log.
  `platform.direct(service, i)` is a replica's own URL.
  Behind haproxy every request comes from 127.0.0.1; `client_addresses=("127.0.0.2",)` adds frontends
  whose requests come from that loopback address (`platform.url(service, client="127.0.0.2")`), and
  `subset_sizes=(1,)` frontends over the first replica only (`platform.url(service, replicas=1)`), so
  a benchmark compares 1 and 2 replicas in one run.
- `env` adds or overrides settings per service (e.g. {"gap_engine": {"CREDSTACK_GAP_STATUS_RECHECK_SECONDS": "5"}}).
- Everything is stopped on exit (SIGTERM to each process group, SIGKILL after a grace period): no leftovers.
  CREDSTACK_CLUSTER_KEEP_LOGS=1 keeps `platform.work` (the logs, PostgreSQL's too, haproxy.cfg) for a post-mortem.
- `seed_organisation(name)` writes an organisation with the demo taxonomy (DESIGN.md §8) straight into the
  taxonomy database and returns its id and the demo's ids by name.
"""

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.auth import TokenAuthority, load_or_create_private_key
from shared.migrations import upgrade

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("taxonomy_api", "badge_issuer", "gap_engine")
PREFIX = {"taxonomy_api": "CREDSTACK_TAXONOMY_", "badge_issuer": "CREDSTACK_ISSUER_", "gap_engine": "CREDSTACK_GAP_"}
READY_SECONDS = 90.0  # two cores shared with others: imports alone can take several seconds
STOP_SECONDS = 25.0  # beyond `credstack run`'s graceful shutdown (20 s)
# Load clients keep idle connections for less than uvicorn's 5 s keep-alive, so they never reuse one the
# server is closing at that moment (an HTTP race every client has, not an unanswered request).
CLIENT_KEEPALIVE_SECONDS = 2.0
ADMIN_SCOPES = frozenset(
    {
        "admin",
        "taxonomy:read",
        "taxonomy:write",
        "assessments:write",
        "credentials:read",
        "credentials:revoke",
        "gaps:read",
        "hris:write",
    }
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(url: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url}/readyz did not answer 200 within {seconds:.0f} s")


def _stop_group(process: subprocess.Popen, grace: float = STOP_SECONDS) -> None:
    """SIGTERM to the process group (uvicorn, haproxy, postgres helpers), SIGKILL if it outlives `grace`."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@dataclass
class Postgres:
    """The cluster's PostgreSQL. `admin_url` is postgresql+asyncpg://…/postgres. Only a server this
    harness started (`folder` set) can be stopped, started and restarted."""

    admin_url: str
    folder: Path | None = None
    port: int | None = None

    @classmethod
    def throwaway(cls) -> "Postgres":
        folder = Path(tempfile.mkdtemp(prefix="credstack-cluster-pg."))
        port = free_port()
        started = subprocess.run(
            [str(REPO / "scripts" / "temp-postgres"), "start", str(folder), str(port)],
            check=True,
            capture_output=True,
            text=True,
        )
        return cls(started.stdout.strip(), folder, port)

    def url_of(self, database: str) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{database}"

    def _pg_ctl(self, *arguments: str) -> None:
        assert self.folder is not None, "a PostgreSQL this harness did not start cannot be stopped or started"
        pg_bin = Path("/usr/lib/postgresql/15/bin")
        command = [
            str(pg_bin / "pg_ctl") if (pg_bin / "pg_ctl").exists() else "pg_ctl",
            "-D",
            str(self.folder / "data"),
        ]
        if os.getuid() == 0:  # scripts/temp-postgres runs the server as this user
            command = ["runuser", "-u", "credstack-ci", "--", *command]
        subprocess.run([*command, *arguments], check=True, capture_output=True)

    def stop(self) -> None:
        """Fast shutdown: open connections are closed, clients see the database go away."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c max_connections=200"
        self._pg_ctl("-l", str(self.folder / "server.log"), "-w", "-o", options, "start")

    def restart(self) -> None:
        self.stop()
        self.start()

    def discard(self, keep_log_in: Path | None = None) -> None:
        if self.folder is not None:
            if keep_log_in is not None and (self.folder / "server.log").exists():
                shutil.copy(self.folder / "server.log", keep_log_in / "postgres.log")
            subprocess.run([str(REPO / "scripts" / "temp-postgres"), "stop", str(self.folder)], check=False)


async def _admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Replica:
    """One service process on its own port; kill() is kill -9 of its group, start() runs it again."""

    service: str
    index: int
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    def launch(self) -> None:
        """Start the process without waiting (several replicas boot in parallel)."""
        command = [sys.executable, "-m", "services.cli", "run", self.service, "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, seconds: float = READY_SECONDS) -> None:
        _wait_ready(self.url, seconds, self.process)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def kill(self) -> None:
        """kill -9: no graceful shutdown, in-flight requests and leases are cut off."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> None:
        """SIGTERM: graceful shutdown (in-flight requests finish, workers stop)."""
        if self.process is not None:
            _stop_group(self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Balancer:
    """haproxy with one frontend per service; reconfigured by rewriting its file and restarting."""

    frontends: dict[str, int]
    folder: Path
    client_frontends: dict[tuple[str, str], int] = field(default_factory=dict)
    """(service, client address) -> a frontend whose connections to the replicas come from that address."""
    subset_frontends: dict[tuple[str, int], int] = field(default_factory=dict)
    """(service, k) -> a frontend balancing over the service's first k replicas only."""
    process: subprocess.Popen | None = None

    def config(self, replicas: dict[str, list[Replica]]) -> str:
        lines = [
            "global",
            "  maxconn 4096",
            "  log stdout format raw local0",
            "defaults",
            "  mode http",
            "  log global",
            "  option httplog",
            "  option dontlog-normal",  # only errors and abnormal ends (5xx, resets, timeouts) reach the log
            "  option http-keep-alive",
            "  timeout connect 2s",
            "  timeout client 60s",
            "  timeout server 60s",
            "  timeout http-keep-alive 30s",
            # A replica busy signing answers /readyz late, not never: 3 missed checks of 2 s mark it down.
            "  timeout check 2s",
            "  retries 2",
            "  option redispatch",
        ]
        everyone = {service: len(group) for service, group in replicas.items()}
        routes = [(service, None, everyone[service], service, port) for service, port in self.frontends.items()]
        routes += [
            (service, address, everyone[service], f"{service}_from_{address.replace('.', '_').replace(':', '_')}", port)
            for (service, address), port in self.client_frontends.items()
        ]
        routes += [
            (service, None, k, f"{service}_first_{k}", port) for (service, k), port in self.subset_frontends.items()
        ]
        for service, address, count, name, port in routes:
            lines += [
                f"frontend {name}",
                f"  bind 127.0.0.1:{port}",
                f"  default_backend {name}_replicas",
                f"backend {name}_replicas",
                "  balance roundrobin",
                "  option httpchk GET /readyz",
                "  http-check expect status 200",
                *([f"  source {address}"] if address else []),
                *(
                    f"  server {replica.name} 127.0.0.1:{replica.port} check inter 500ms fall 3 rise 1"
                    for replica in replicas[service][:count]
                ),
            ]
        return "\n".join(lines) + "\n"

    def start(self, replicas: dict[str, list[Replica]]) -> None:
        binary = subprocess.run(
            [str(REPO / "scripts" / "ensure-haproxy")], check=True, capture_output=True, text=True
        ).stdout.strip()
        path = self.folder / "haproxy.cfg"
        path.write_text(self.config(replicas))
        subprocess.run([binary, "-c", "-q", "-f", str(path)], check=True)
        with (self.folder / "haproxy.log").open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        for port in [*self.frontends.values(), *self.client_frontends.values(), *self.subset_frontends.values()]:
            _wait_ready(f"http://127.0.0.1:{port}", READY_SECONDS, self.process)

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process, grace=5)


@dataclass
class Cluster:
    postgres: Postgres
    databases: dict[str, str]
    """Per service, its database URL (postgresql+asyncpg)."""
    replicas: dict[str, list[Replica]]
    balancer: Balancer | None
    work: Path
    authority: TokenAuthority
    master_key: str
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, service: str, client: str | None = None, replicas: int | None = None) -> str:
        """Where clients reach the service: haproxy's frontend, or the first replica without a balancer.
        `client` (one of cluster()'s client_addresses): the frontend whose requests reach the replicas
        from that address, as another client would (a per-address budget of its own). `replicas` (one of
        cluster()'s subset_sizes): the frontend over the first that many replicas only."""
        if replicas is not None:
            assert self.balancer is not None, "subsets need the balancer"
            return f"http://127.0.0.1:{self.balancer.subset_frontends[(service, replicas)]}"
        if client is not None:
            assert self.balancer is not None, "client addresses need the balancer"
            return f"http://127.0.0.1:{self.balancer.client_frontends[(service, client)]}"
        if self.balancer is not None:
            return f"http://127.0.0.1:{self.balancer.frontends[service]}"
        return self.replicas[service][0].url

    def direct(self, service: str, index: int) -> str:
        return self.replicas[service][index].url

    def bearer(self, org_id: uuid.UUID, scopes: frozenset[str] = ADMIN_SCOPES, client_id: str = "cluster") -> dict:
        token = self.authority.issue(org_id=org_id, client_id=client_id, scopes=scopes)
        return {"Authorization": f"Bearer {token}"}

    async def fetch(self, service: str, query: str, *arguments: Any) -> list[asyncpg.Record]:
        """Rows of one query on a service's database (its own connection, closed after)."""
        connection = await asyncpg.connect(self.databases[service].replace("+asyncpg", ""))
        try:
            return await connection.fetch(query, *arguments)
        finally:
            await connection.close()

    def sql(self, service: str, query: str, *arguments: Any) -> list[asyncpg.Record]:
        """`fetch` for code outside an event loop."""
        return asyncio.run(self.fetch(service, query, *arguments))

    def seed_organisation(self, name: str) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
        """An organisation with the demo taxonomy, written straight into taxonomy_api's database."""
        from services.taxonomy_api.db.revisions import TaxonomySession
        from services.taxonomy_api.domain import organisations
        from services.taxonomy_api.provisioning import seed_demo_taxonomy
        from shared.db import Database

        async def seed() -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
            database = Database(self.databases["taxonomy_api"], session_class=TaxonomySession, pool_size=1)
            try:
                async with database.sessions() as session:
                    organisation = await organisations.create_organisation(session, name)
                    ids = await seed_demo_taxonomy(session, organisation.id)
                    await session.commit()
            finally:
                await database.dispose()
            return organisation.id, ids

        return asyncio.run(seed())

    def metric(self, service: str, index: int, name: str, **labels: str) -> float:
        """Sum of a Prometheus sample of one replica whose labels include `labels`."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"{self.direct(service, index)}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total


def _service_env(
    service: str,
    *,
    database: str,
    urls: dict[str, str],
    key_file: Path,
    master_key: str,
    overrides: dict[str, str],
) -> dict[str, str]:
    prefix = PREFIX[service]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CREDSTACK_")  # nothing of the caller's own settings leaks in
    }
    env |= {
        "CREDSTACK_ENVIRONMENT": "dev",
        "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file),
        "CREDSTACK_LOG_LEVEL": "WARNING",
        "CREDSTACK_TAXONOMY_PAGE_URL": urls["taxonomy_api"],
        "CREDSTACK_ISSUER_PAGE_URL": urls["badge_issuer"],
        "CREDSTACK_GAP_PAGE_URL": urls["gap_engine"],
        f"{prefix}DATABASE_URL": database,
        f"{prefix}PUBLIC_BASE_URL": urls[service],
        f"{prefix}ACCESS_LOG": "false",
        f"{prefix}MASTER_KEY": master_key,
        # Six processes on one server of max_connections=200: 10 kept + 10 on demand each, plus side pools.
        f"{prefix}DB_POOL_SIZE": "10",
        f"{prefix}DB_MAX_OVERFLOW": "10",
    }
    if service == "taxonomy_api":
        env["CREDSTACK_TAXONOMY_GAP_ENGINE_URL"] = urls["gap_engine"]
    else:
        env[f"{prefix}TAXONOMY_URL"] = urls["taxonomy_api"]
    if service == "gap_engine":
        env["CREDSTACK_GAP_ISSUER_URL"] = urls["badge_issuer"]
    return env | overrides


@contextlib.contextmanager
def cluster(
    replicas: int = 2,
    *,
    balancer: bool = True,
    env: dict[str, dict[str, str]] | None = None,
    postgres_url: str | None = None,
    client_addresses: tuple[str, ...] = (),
    subset_sizes: tuple[int, ...] = (),
) -> Iterator[Cluster]:
    """Start everything (see the module docstring), yield the Cluster, stop everything."""
    assert replicas >= 1, "a cluster has at least one replica per service"
    work = Path(tempfile.mkdtemp(prefix="credstack-cluster."))
    key_file = work / "auth.pem"
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=True), issuer="credstack", audience="credstack", ttl_seconds=3600
    )
    master_key = base64.b64encode(os.urandom(32)).decode()
    postgres = Postgres(postgres_url) if postgres_url else Postgres.throwaway()
    run = uuid.uuid4().hex[:8]
    names = {service: f"cluster_{service}_{run}" for service in SERVICES}
    started: list[Replica] = []
    front: Balancer | None = None
    try:
        asyncio.run(_admin(postgres.admin_url, *(f'CREATE DATABASE "{name}"' for name in names.values())))
        databases = {service: postgres.url_of(name) for service, name in names.items()}
        for service, url in databases.items():
            upgrade(service, url)
        ports = {service: [free_port() for _ in range(replicas)] for service in SERVICES}
        if balancer:
            front = Balancer(
                {service: free_port() for service in SERVICES},
                work,
                {(service, address): free_port() for service in SERVICES for address in client_addresses},
                {(service, k): free_port() for service in SERVICES for k in subset_sizes},
            )
            urls = {service: f"http://127.0.0.1:{port}" for service, port in front.frontends.items()}
        else:
            urls = {service: f"http://127.0.0.1:{ports[service][0]}" for service in SERVICES}
        group = {
            service: [
                Replica(
                    service,
                    index,
                    port,
                    _service_env(
                        service,
                        database=databases[service],
                        urls=urls,
                        key_file=key_file,
                        master_key=master_key,
                        overrides=(env or {}).get(service, {}),
                    ),
                    work / f"{service}-{index}.log",
                )
                for index, port in enumerate(ports[service])
            ]
            for service in SERVICES
        }
        for service in SERVICES:
            for replica in group[service]:
                replica.launch()
                started.append(replica)
        for replica in started:
            replica.wait_ready()
        if front is not None:
            front.start(group)
        yield Cluster(postgres, databases, group, front, work, authority, master_key)
    finally:
        if front is not None:
            front.stop()
        for replica in started:
            replica.terminate()
        with contextlib.suppress(Exception):
            if postgres.folder is None:  # a shared server: leave it clean
                asyncio.run(
                    _admin(postgres.admin_url, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names.values()))
                )
        keep = os.environ.get("CREDSTACK_CLUSTER_KEEP_LOGS") is not None
        postgres.discard(keep_log_in=work if keep else None)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
