"""Shared benchmark plumbing: a throwaway PostgreSQL, services under uvicorn, and wrk for load.

Benchmarks are not tests: they print figures. Load comes from wrk (Debian package, installed here if
missing) on loopback, bounded in time; every comparison is measured in the same run, rounds interleaved.
"""

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

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
  headers["Content-Type"] = "application/json"
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
    """POST `body` (JSON) to `url` with `connections` keep-alive clients for `seconds` through a wrk Lua
    script; `unique_header` (e.g. Idempotency-Key) gets a value unique to every request of the run."""
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
