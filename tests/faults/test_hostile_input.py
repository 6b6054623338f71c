"""The hostile-input catalogue, run against all three services at once, in production mode.

One table of what an attacker sends (NUL bytes raw, escaped and percent-encoded; JSON nested 100,000
deep, in a body and inside a JWT; integers over 64 bits and floats past double range; strings past
every field bound; bodies past the size bound, declared and chunked; decompression bombs and hostile
SVG; forged access tokens; URLs into the private network) crossed with representative routes of each
service: JSON bodies, query strings, path parameters, CSV (raw and multipart), image uploads, the
public verifier. Every answer must be a 4xx problem+json saying why, and the service must still serve.

The outbound fetches (did:web documents, key URLs, status lists, webhook destinations) go through the
real network stack to whatever the policy lets through; names resolve through the resolver override
the apps offer (never the system's DNS), to loopback, link-local or private addresses. A listener on
loopback counts every connection it accepts: a refusal must happen before anything connects.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import socketserver
import threading
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.badge_issuer.app import create_app as create_issuer
from services.badge_issuer.baking import png
from services.badge_issuer.proofs import data_integrity, keys, vc_jwt
from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.app import create_app as create_gap_engine
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from shared.auth import SCOPES, TokenAuthority, load_or_create_private_key
from shared.bitstring_status_list import build_status_list_credential, build_status_list_entry
from tests.badge_issuer.test_baking import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    EXTERNAL_PARAMETER_ENTITY,
    chunk,
    hand_built_png,
    ihdr,
)
from tests.shared.remote_web import PUBLIC_ADDRESS, RemoteWeb

pytestmark = pytest.mark.anyio

SAMPLE_CREDENTIAL = Path(__file__).resolve().parents[1] / "badge_issuer" / "data" / "sample-credential.json"
MAX_BODY_BYTES = 1_048_576  # every service's default bound (settings.max_body_bytes)
DEEP = 100_000


# --- the network the verifier sees: loopback listeners, a resolver override, a public host in process -----


class ConnectionCounter(socketserver.ThreadingTCPServer):
    """A loopback listener that only counts the connections it accepts (and closes them)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.accepted = 0
        self._changed = threading.Condition()
        super().__init__((host, 0), _CountingHandler)
        self.port = self.server_address[1]

    def count(self) -> None:
        with self._changed:
            self.accepted += 1
            self._changed.notify_all()

    def wait_for(self, accepted: int, timeout: float = 2.0) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self.accepted >= accepted, timeout)

    def __enter__(self) -> ConnectionCounter:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _CountingHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.count()  # type: ignore[attr-defined]


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: the policy connects to vetted addresses, so this one was never vetted


LISTS_HOST = "lists.remote.example"  # a "public" host served in process (never over the network)
# Names that resolve, through the resolver override, to addresses the production policy refuses.
PRIVATE_NAMES = {
    "loopback.remote.example": ["127.0.0.1"],
    "rebound.remote.example": [PUBLIC_ADDRESS, "127.0.0.1"],  # one public answer, one loopback
    "metadata.remote.example": ["169.254.169.254"],
    "intranet.remote.example": ["10.0.0.7"],
}


class Network:
    """Where the apps' outbound requests go. Names resolve only here (`resolve`): the remote web's
    names to a public address, PRIVATE_NAMES to theirs, anything else fails (no real DNS). A request
    to the remote web's host is answered in process; one to a loopback address reaches the real
    network stack, so a request the policy wrongly lets through connects to a loopback listener and is
    counted; one to any other address is recorded and never dialled (tests reach loopback only)."""

    def __init__(self, web: RemoteWeb) -> None:
        self.web = web
        self.sent: list[str] = []  # every request that got past the policy to a transport
        self._real = httpx.AsyncHTTPTransport()

    async def close(self) -> None:
        await self._real.aclose()

    async def resolve(self, host: str, port: int) -> list[str]:
        if host in self.web.addresses:
            return self.web.addresses[host]
        if host in PRIVATE_NAMES:
            return PRIVATE_NAMES[host]
        raise OSError(f"{host}: no such name in this test's resolver")

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        network = self

        class Routing(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                host = request.headers.get("host", "").split(":")[0]
                if host in network.web.addresses:
                    return await network.web.transport.handle_async_request(request)
                network.sent.append(str(request.url))
                if not _is_loopback_address(request.url.host):
                    raise httpx.ConnectError("the test network dials loopback only", request=request)
                return await network._real.handle_async_request(request)

        return Routing()


# --- the three services, in production mode, sharing one organisation ---------------------------------


@dataclass
class Platform:
    taxonomy: httpx.AsyncClient
    issuer: httpx.AsyncClient
    gap: httpx.AsyncClient
    org: uuid.UUID
    headers: dict[str, str]
    authority: TokenAuthority
    issuer_id: str
    achievement_id: str
    source_id: str
    network: Network
    listeners: list[ConnectionCounter]
    web: RemoteWeb
    body_bounds: dict[str, int]
    ids: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> httpx.AsyncClient:
        return {"taxonomy_api": self.taxonomy, "badge_issuer": self.issuer, "gap_engine": self.gap}[service]

    @property
    def loopback_port(self) -> int:
        return self.listeners[0].port

    def ssrf_target(self, name: str) -> str:
        return _ssrf_targets(self.loopback_port, self.listeners[-1].port)[name]

    def connections(self) -> tuple[int, int]:
        """Connections the loopback listeners accepted, requests that got past the policy."""
        return self.accepted(), len(self.network.sent)

    def accepted(self) -> int:
        return sum(listener.accepted for listener in self.listeners)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def listeners() -> Iterator[list[ConnectionCounter]]:
    servers = [ConnectionCounter("127.0.0.1", socket.AF_INET)]
    if _ipv6_loopback_available():
        servers.append(ConnectionCounter("::1", socket.AF_INET6))
    for server in servers:
        server.__enter__()
    yield servers
    for server in servers:
        server.__exit__()


def _production(settings_class: type, url: str, key_file: Path, **values: Any) -> Any:
    return settings_class(
        database_url=url,
        auth_private_key_file=key_file,
        environment="production",
        access_log=False,
        public_rate_limit_per_minute=100_000,
        **values,
    )


@pytest.fixture(scope="module")
async def platform(database_urls, auth_key_file, listeners) -> AsyncIterator[Platform]:
    web = RemoteWeb()
    web.host(LISTS_HOST)
    network = Network(web)
    master = {"master_key": base64.b64encode(os.urandom(32)).decode()}
    taxonomy_app = create_taxonomy(
        _production(TaxonomySettings, database_urls["taxonomy_api"], auth_key_file, **master)
    )
    issuer_app = create_issuer(
        _production(
            IssuerSettings,
            database_urls["badge_issuer"],
            auth_key_file,
            taxonomy_url="http://taxonomy.test",
            public_base_url="https://issuer.credstack.test",
            fetch_timeout_seconds=2.0,
            **master,
        ),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        fetch_transport=network.transport,
        webhook_transport=network.transport,
        fetch_resolver=network.resolve,
    )
    gap_app = create_gap_engine(
        _production(
            GapSettings,
            database_urls["gap_engine"],
            auth_key_file,
            taxonomy_url="http://taxonomy.test",
            issuer_url="https://issuer.credstack.test",
            **master,
        ),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        issuer_transport=httpx.ASGITransport(app=issuer_app),
        fetch_transport=network.transport,
        fetch_resolver=network.resolve,
    )
    async with taxonomy_app.state.database.sessions() as session:
        organisation = await organisations.create_organisation(session, f"hostile-{uuid.uuid4().hex[:10]}")
        ids = await seed_demo_taxonomy(session, organisation.id)
        await session.commit()
    authority = TokenAuthority(
        load_or_create_private_key(auth_key_file, create=False),
        issuer="credstack",
        audience="credstack",
        ttl_seconds=900,
    )
    token = authority.issue(org_id=organisation.id, client_id="hostile-catalogue", scopes=frozenset(SCOPES))
    headers = {"Authorization": f"Bearer {token}"}
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, timeout=30)
        for app, base in (
            (taxonomy_app, "http://taxonomy.test"),
            (issuer_app, "https://issuer.credstack.test"),
            (gap_app, "http://gap.test"),
        )
    ]
    taxonomy, issuer, gap = clients
    created = await issuer.post(
        "/v1/issuers", json={"name": "Hostile Academy", "url": "https://academy.credstack.example"}, headers=headers
    )
    assert created.status_code == 201, created.text
    employee = await gap.put("/v1/employees/E-1", json={"name": "Ada"}, headers=headers)
    assert employee.status_code in (200, 201), employee.text
    source = await gap.post(
        "/v1/webhook-sources",
        json={"name": "issuer", "secret": "whsec_" + base64.b64encode(os.urandom(24)).decode()},
        headers=headers,
    )
    assert source.status_code == 201, source.text
    yield Platform(
        taxonomy=taxonomy,
        issuer=issuer,
        gap=gap,
        org=organisation.id,
        headers=headers,
        authority=authority,
        issuer_id=created.json()["id"],
        achievement_id=str(ids["badge:Active listening"]),
        source_id=source.json()["id"],
        network=network,
        listeners=listeners,
        web=web,
        body_bounds={
            name: app.state.settings.max_body_bytes
            for name, app in (("taxonomy_api", taxonomy_app), ("badge_issuer", issuer_app), ("gap_engine", gap_app))
        },
    )
    for client in clients:
        await client.aclose()
    await network.close()
    await issuer_app.state.taxonomy.http.aclose()
    await issuer_app.state.fetcher.aclose()
    await issuer_app.state.webhook_http.aclose()
    await gap_app.state.taxonomy.http.aclose()
    await gap_app.state.verifier.http.aclose()
    await gap_app.state.status_fetcher.aclose()
    for app in (taxonomy_app, issuer_app, gap_app):
        await app.state.database.dispose()


# --- what is sent ----------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NESTED = b"[" * DEEP + b"]" * DEEP


EDDSA_HEADER = b'{"alg":"EdDSA","typ":"JWT"}'


def _compact(header: bytes, payload: bytes, signature: bytes = b"sig") -> str:
    """A compact JWS from raw segments (unsigned: what a forger can send)."""
    return (
        ".".join(_b64url(part) for part in (header, payload, signature))
        if signature
        else (f"{_b64url(header)}.{_b64url(payload)}.")
    )


HUGE_STRING = "x" * 300_000  # within the body bound, past every string field's bound


async def _chunked(body: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    """A body without Content-Length: httpx sends an iterator as chunked transfer encoding."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _png(*middle: bytes, width: int = 2, height: int = 2) -> bytes:
    return png.PNG_SIGNATURE + ihdr(width, height) + b"".join(middle) + chunk(b"IEND", b"")


HUGE_IHDR_PNG = _png(chunk(b"IDAT", b"junk"), width=100_000, height=100_000)
INFLATING_PNG = _png(chunk(b"IDAT", zlib.compress(bytes(1 << 22))))


def _baked_png(credential: bytes) -> bytes:
    """A valid PNG carrying `credential` as its OB 3.0 iTXt chunk (uncompressed, no language tag)."""
    return hand_built_png(chunk(b"iTXt", b"openbadgecredential\x00\x00\x00\x00\x00" + credential))


NUL_IN_JSON_PNG = _baked_png(b'{"@context": [], "name": "a\\u0000b"}')
DEEP_IN_PNG = _baked_png(b'{"a": ' + NESTED + b"}")
HUGE_NUMBERS_PNG = _baked_png(b'{"@context": [], "n": 18446744073709551616, "x": 1e400}')
DEEP_JWT_IN_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
    b'<openbadges:credential verify="' + _compact(NESTED, b"{}").encode() + b'"/></svg>'
)


@dataclass(frozen=True)
class Hostile:
    """One request of the catalogue and what it must get: `status`, and words of the detail."""

    service: str
    method: str
    path: str
    status: int
    detail: str
    json_body: bytes | None = None
    # "problem": a 4xx problem+json; "verdict": the verifier's 200 answer with verified false (what it
    # says of anything it could read as a request); "rejected": the gap engine's 201 record of a
    # credential it refused, with its reason (it keeps what it refused, DESIGN.md §4).
    outcome: str = "problem"
    # Built at send time past the service's own body bound: "json" (the template's value), "csv", "image".
    oversize: str | None = None
    content: bytes | None = None
    chunked: bool = False
    content_type: str | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    data: dict[str, str] | None = None
    authenticated: bool = True
    idempotent: bool = False


# The representative JSON routes of each service, each with a template body: "{field}" is where the
# hostile value goes (as a JSON value), "{issuer_id}" / "{achievement_id}" are filled in from the platform.
JSON_ROUTES = {
    "taxonomy-capability": ("taxonomy_api", "POST", "/v1/capabilities", '{"name": {field}}'),
    "taxonomy-skill-update": ("taxonomy_api", "PUT", "/v1/skills/{skill_id}", '{"name": {field}}'),
    "issuer-assessment": (
        "badge_issuer",
        "POST",
        "/v1/assessment-results",
        '{"learner": {"hris_id": "E-1", "email": "ada@example.com"}, "achievement_id": "{achievement_id}", '
        '"issuer_id": "{issuer_id}", "score": 90, "assessor": {field}}',
    ),
    "issuer-verify": ("badge_issuer", "POST", "/v1/verify", '{"@context": [], "name": {field}}'),
    "issuer-webhook-subscription": ("badge_issuer", "POST", "/v1/webhook-subscriptions", '{"url": {field}}'),
    "gap-employee": ("gap_engine", "PUT", "/v1/employees/E-1", '{"name": {field}}'),
    "gap-bulk": ("gap_engine", "POST", "/v1/employees/bulk", '{"employees": [{"hris_id": "E-2", "name": {field}}]}'),
    "gap-credential": (
        "gap_engine",
        "POST",
        "/v1/employees/E-1/credentials",
        '{"@context": [], "type": ["VerifiableCredential"], "name": {field}}',
    ),
    "gap-webhook-intake": ("gap_engine", "POST", "/v1/webhooks/issuer/{source_id}", '{"type": {field}}'),
}
JSON_VALUES = {
    "raw-nul": (b'"a\x00b"', 422, "NUL"),
    "escaped-nul": (b'"a\\u0000b"', 422, "NUL"),
    "nested-100000": (NESTED, 422, "nested"),
    "integer-2**64": (str(2**64).encode(), 422, "64 bits"),
    "negative-2**64": (str(-(2**64)).encode(), 422, "64 bits"),
    "float-1e400": (b"1e400", 422, ""),
    "huge-string": (json.dumps(HUGE_STRING).encode(), 422, ""),
}


# What a string past every field bound gets where the field is free-form (a credential's own members):
# the verifier reads it and says why it is no credential; the gap engine keeps it as rejected; the
# webhook receiver checks the signature first.
HUGE_STRING_OUTCOMES = {
    "issuer-verify": ("verdict", 200, ""),
    "gap-credential": ("rejected", 201, ""),
    "gap-webhook-intake": ("problem", 401, "signature"),
}


def _json_cases() -> Iterator[Any]:
    for route, (service, method, path, template) in JSON_ROUTES.items():
        for value_name, (value, status, detail) in JSON_VALUES.items():
            body = template.encode().replace(b"{field}", value)
            outcome = "problem"
            if value_name == "huge-string" and route in HUGE_STRING_OUTCOMES:
                outcome, status, detail = HUGE_STRING_OUTCOMES[route]
            case = Hostile(
                service, method, path, status, detail, json_body=body, outcome=outcome, idempotent=method == "POST"
            )
            yield pytest.param(case, id=f"{route}:{value_name}")
        for chunked in (False, True):
            case = Hostile(
                service,
                method,
                path,
                413,
                "exceeds the limit",
                json_body=template.encode(),
                oversize="json",
                chunked=chunked,
            )
            yield pytest.param(case, id=f"{route}:oversize-{'chunked' if chunked else 'content-length'}")


def _target_cases() -> Iterator[Any]:
    """NUL in the URL: path parameters and query strings of each service."""
    for service, path, query in (
        ("taxonomy_api", "/v1/skills/a%00b", "/v1/skills?q=a%00b"),
        ("badge_issuer", "/v1/credentials/a%00b", "/v1/credentials?recipient=a%00b"),
        ("gap_engine", "/v1/employees/a%00b", "/v1/employees?team=a%00b"),
    ):
        yield pytest.param(Hostile(service, "GET", path, 422, "path"), id=f"{service}:path-nul")
        yield pytest.param(Hostile(service, "GET", query, 422, "query string"), id=f"{service}:query-nul")
    yield pytest.param(
        Hostile("gap_engine", "PUT", "/v1/employees/%20E1", 422, "", json_body=b'{"name": "Ada"}'),
        id="gap_engine:path-whitespace-id",
    )
    yield pytest.param(
        Hostile("gap_engine", "PUT", "/v1/employees/" + "E" * 5000, 422, "", json_body=b'{"name": "Ada"}'),
        id="gap_engine:path-huge-id",
    )


CSV_HEADER = b"hris_id,name\n"


def _csv_cases() -> Iterator[Any]:
    rows = {
        "raw-nul": (CSV_HEADER + b"E-3,A\x00da\n", 422, "NUL"),
        "percent-nul": (CSV_HEADER + b"E-3,A%00da\n", 422, "NUL"),
        "huge-cell": (CSV_HEADER + b"E-3," + b"x" * 140_000 + b"\n", 422, "line 2"),
        "not-utf8": (CSV_HEADER + b"E-3,\xff\xfe\n", 422, ""),
    }
    for name, (text, status, detail) in rows.items():
        yield pytest.param(
            Hostile(
                "gap_engine", "POST", "/v1/employees/bulk/csv", status, detail, content=text, content_type="text/csv"
            ),
            id=f"gap-csv:{name}",
        )
        yield pytest.param(
            Hostile(
                "gap_engine",
                "POST",
                "/v1/employees/bulk/csv",
                status,
                detail,
                files={"file": ("people.csv", text, "text/csv")},
            ),
            id=f"gap-csv-multipart:{name}",
        )
    for chunked in (False, True):
        yield pytest.param(
            Hostile(
                "gap_engine",
                "POST",
                "/v1/employees/bulk/csv",
                413,
                "exceeds the limit",
                content=b"",
                oversize="csv",
                content_type="text/csv",
                chunked=chunked,
            ),
            id=f"gap-csv:oversize-{'chunked' if chunked else 'content-length'}",
        )
    yield pytest.param(
        Hostile(
            "taxonomy_api",
            "POST",
            "/oauth/token",
            422,
            "NUL",
            content=b"grant_type=client_credentials&client_id=a%00b&client_secret=x",
            content_type="application/x-www-form-urlencoded",
            authenticated=False,
        ),
        id="taxonomy-token-form:percent-nul",
    )


IMAGES = {
    "png-ihdr-100000x100000": (HUGE_IHDR_PNG, "badge.png", "image/png", "100000x100000"),
    "png-inflating-idat": (INFLATING_PNG, "badge.png", "image/png", ""),
    "png-escaped-nul-in-credential": (NUL_IN_JSON_PNG, "badge.png", "image/png", ""),
    "png-nested-credential": (DEEP_IN_PNG, "badge.png", "image/png", "nested"),
    "png-huge-numbers-in-credential": (HUGE_NUMBERS_PNG, "badge.png", "image/png", ""),
    "svg-billion-laughs": (BILLION_LAUGHS, "badge.svg", "image/svg+xml", "entit"),
    "svg-xxe-file": (EXTERNAL_ENTITY, "badge.svg", "image/svg+xml", "entit"),
    "svg-xxe-parameter-entity-to-loopback": (EXTERNAL_PARAMETER_ENTITY, "badge.svg", "image/svg+xml", "entit"),
    "svg-nested-jwt": (DEEP_JWT_IN_SVG, "badge.svg", "image/svg+xml", "nested"),
    "not-an-image": (b"GIF89a\x00\x00 not a badge", "badge.gif", "image/gif", ""),
}


def _image_cases() -> Iterator[Any]:
    for route, (service, path, outcome, status) in {
        "issuer-verify": ("badge_issuer", "/v1/verify", "problem", 422),
        "gap-baked": ("gap_engine", "/v1/employees/E-1/credentials/baked", "rejected", 201),
    }.items():
        for name, (data, filename, media_type, detail) in IMAGES.items():
            upload = {"file": (filename, data, media_type)}
            yield pytest.param(
                Hostile(service, "POST", path, status, detail, files=upload, outcome=outcome), id=f"{route}:{name}"
            )
        yield pytest.param(Hostile(service, "POST", path, 413, "", oversize="image"), id=f"{route}:oversize-image")


def _jwt_cases() -> Iterator[Any]:
    """VC-JWTs the public verifier parses itself: nesting and NUL inside header or payload."""
    bodies = {
        "header-nested-100000": _compact(NESTED, b"{}"),
        "payload-nested-100000": _compact(EDDSA_HEADER, b'{"vc": ' + NESTED + b"}"),
        "payload-integer-2**64": _compact(EDDSA_HEADER, b'{"n": 18446744073709551616}'),
        "header-escaped-nul": _compact(b'{"alg":"EdDSA","kid":"a\\u0000b"}', b"{}"),
        "not-base64": "%%%.@@@.!!!",
    }
    for name, token in bodies.items():
        body = json.dumps({"jwt": token}).encode()
        # A header too deep to read is a malformed request; anything after it, a verdict on the token.
        outcome, status, detail = (
            ("problem", 422, "nested") if name.startswith("header-nested") else ("verdict", 200, "")
        )
        yield pytest.param(
            Hostile("badge_issuer", "POST", "/v1/verify", status, detail, json_body=body, outcome=outcome),
            id=f"verify-jwt:{name}",
        )
        yield pytest.param(
            Hostile(
                "badge_issuer", "POST", "/v1/verify", 422, "", content=token.encode(), content_type="application/vc+jwt"
            ),
            id=f"verify-raw-jwt:{name}",
        )


def _upload_cases() -> Iterator[Any]:
    """Files the taxonomy imports (multipart, read as text or JSON whatever their label) and
    credentials the gap engine takes in as compact JWTs (whose payload the edge cannot see)."""
    files = {
        "csv-raw-nul": ("skills.csv", b"name,description\nSQL,a\x00b\n", "text/csv", "NUL"),
        "csv-raw-nul-as-octet-stream": (
            "skills.csv",
            b"name,description\nSQL,a\x00b\n",
            "application/octet-stream",
            "NUL",
        ),
        "case-json-escaped-nul": ("case.json", b'{"CFDocument": {"title": "a\\u0000b"}}', "application/json", "NUL"),
        "case-json-nested-100000": ("case.json", b'{"CFDocument": ' + NESTED + b"}", "application/json", "nested"),
        "case-json-integer-2**64": (
            "case.json",
            b'{"CFDocument": 18446744073709551616}',
            "application/json",
            "64 bits",
        ),
    }
    for name, (filename, data, media_type, detail) in files.items():
        kind = "csv" if filename.endswith(".csv") else "case"
        case = Hostile(
            "taxonomy_api",
            "POST",
            "/v1/imports/uploads",
            422,
            detail,
            files={"files": (filename, data, media_type)},
            data={"kind": kind},
            idempotent=True,
        )
        yield pytest.param(case, id=f"taxonomy-import-upload:{name}")
    tokens = {
        "payload-escaped-nul": _compact(EDDSA_HEADER, b'{"vc": {"name": "a\\u0000b"}}'),
        "payload-integer-2**64": _compact(EDDSA_HEADER, b'{"vc": {"n": 18446744073709551616}}'),
        "payload-float-1e400": _compact(EDDSA_HEADER, b'{"vc": {"x": 1e400}}'),
        "payload-nested-100000": _compact(EDDSA_HEADER, b'{"vc": ' + NESTED + b"}"),
        "header-nested-100000": _compact(NESTED, b"{}"),
    }
    for name, token in tokens.items():
        body = json.dumps({"jwt": token}).encode()
        case = Hostile(
            "gap_engine", "POST", "/v1/employees/E-1/credentials", 201, "", json_body=body, outcome="rejected"
        )
        yield pytest.param(case, id=f"gap-credential-jwt:{name}")


CATALOGUE = [*_upload_cases(), *_json_cases(), *_target_cases(), *_csv_cases(), *_image_cases(), *_jwt_cases()]


def _fill(text: str, platform: Platform) -> str:
    return (
        text.replace("{issuer_id}", platform.issuer_id)
        .replace("{achievement_id}", platform.achievement_id)
        .replace("{source_id}", platform.source_id)
        .replace("{skill_id}", platform.ids.setdefault("skill", str(uuid.uuid4())))
    )


async def _send(platform: Platform, case: Hostile) -> httpx.Response:
    headers: dict[str, str] = dict(platform.headers) if case.authenticated else {}
    if case.idempotent:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    content: Any = None
    files = case.files
    bound = platform.body_bounds[case.service]
    if case.json_body is not None:
        body = case.json_body
        if case.oversize == "json":
            body = body.replace(b"{field}", json.dumps("x" * (bound + 10)).encode())
        content = _fill(body.decode("utf-8", "surrogateescape"), platform).encode("utf-8", "surrogateescape")
        headers["content-type"] = "application/json"
    elif case.content is not None:
        content = CSV_HEADER + b"E-3,Ada\n" * (bound // 8 + 10) if case.oversize == "csv" else case.content
        headers["content-type"] = case.content_type or "application/octet-stream"
    elif case.oversize == "image":
        files = {"file": ("badge.png", _png(chunk(b"tEXt", b"pad\x00" + bytes(bound + 10))), "image/png")}
    if case.chunked and content is not None:
        content = _chunked(content)
    client = platform.client(case.service)
    return await client.request(
        case.method, _fill(case.path, platform), content=content, files=files, data=case.data, headers=headers
    )


async def assert_still_serving(platform: Platform, service: str) -> None:
    client = platform.client(service)
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text


def assert_problem(response: httpx.Response, status: int, detail: str = "") -> dict[str, Any]:
    assert response.status_code < 500, response.text[:2000]
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"], problem
    assert detail.lower() in json.dumps(problem).lower(), problem
    return problem


def assert_verdict(response: httpx.Response, detail: str = "") -> None:
    """The verifier's answer to what it could read as a request: 200, not verified, a reason for each failure."""
    assert response.status_code == 200, response.text[:2000]
    result = response.json()
    assert result["verified"] is False and result["failures"], result
    assert detail.lower() in json.dumps(result["failures"]).lower(), result["failures"]


def assert_rejected(response: httpx.Response, detail: str = "") -> None:
    """The gap engine's refusal, never counted: a credential the verifier read and found wanting is kept
    as a rejected record (201) with why; a document in which it found no credential at all is a 422
    problem carrying the verifier's reason, and nothing is kept."""
    if response.status_code == 422:
        problem = assert_problem(response, 422, "This is not a verifiable credential")
        assert detail.lower() in problem["detail"].lower(), problem
        return
    assert response.status_code == 201, response.text[:2000]
    record = response.json()
    assert record["status"] == "rejected" and record["reasons"], record
    assert detail.lower() in json.dumps(record["reasons"]).lower(), record["reasons"]


@pytest.mark.parametrize("case", CATALOGUE)
async def test_hostile_input_is_a_4xx_problem_and_the_service_still_serves(platform, case: Hostile):
    response = await _send(platform, case)
    if case.outcome == "verdict":
        assert_verdict(response, case.detail)
    elif case.outcome == "rejected":
        assert_rejected(response, case.detail)
    else:
        assert_problem(response, case.status, case.detail)
    await assert_still_serving(platform, case.service)


# --- forged access tokens ------------------------------------------------------------------------------

AUTHENTICATED_READS = {"taxonomy_api": "/v1/skills", "badge_issuer": "/v1/credentials", "gap_engine": "/v1/employees"}


def _claims(platform: Platform, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "credstack",
        "aud": "credstack",
        "sub": "forger",
        "org": str(platform.org),
        "scope": " ".join(sorted(SCOPES)),
        "iat": now,
        "exp": now + 600,
        **changes,
    }
    return {name: value for name, value in claims.items() if value is not None}


def _public_pem(platform: Platform) -> bytes:
    return platform.authority.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs256_with_public_key(platform: Platform) -> str:
    """A token MAC'd with the verifier's public key as the HMAC secret (the classic algorithm confusion)."""
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url(json.dumps(_claims(platform)).encode())
    mac = hmac.new(_public_pem(platform), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(mac)}"


def _tampered(platform: Platform) -> str:
    header, _, signature = platform.authority.issue(
        org_id=platform.org, client_id="reader", scopes=frozenset({"taxonomy:read"})
    ).split(".")
    return f"{header}.{_b64url(json.dumps(_claims(platform, sub='reader')).encode())}.{signature}"


FORGERIES: dict[str, Callable[[Platform], str]] = {
    "alg-none": lambda p: _compact(b'{"alg":"none","typ":"JWT"}', json.dumps(_claims(p)).encode(), b""),
    "hs256-signed-with-the-public-key": _hs256_with_public_key,
    "expired": lambda p: pyjwt.encode(
        _claims(p, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), p.authority.private_key, "EdDSA"
    ),
    "wrong-audience": lambda p: pyjwt.encode(_claims(p, aud="someone-else"), p.authority.private_key, "EdDSA"),
    "wrong-issuer": lambda p: pyjwt.encode(_claims(p, iss="evil"), p.authority.private_key, "EdDSA"),
    "another-issuers-key": lambda p: pyjwt.encode(_claims(p), Ed25519PrivateKey.generate(), "EdDSA"),
    "tampered-payload": _tampered,
    "no-expiry": lambda p: pyjwt.encode(_claims(p, exp=None), p.authority.private_key, "EdDSA"),
    "org-not-a-uuid": lambda p: pyjwt.encode(_claims(p, org="../../etc"), p.authority.private_key, "EdDSA"),
    "garbage": lambda p: "not-a-token",
    "three-garbage-segments": lambda p: "a.b.c",
    "header-nested-100000": lambda p: _compact(NESTED, b"{}"),
    "header-escaped-nul": lambda p: _compact(b'{"alg":"EdDSA","kid":"\\u0000"}', b"{}"),
    "huge-token": lambda p: "A" * 200_000,
}


@pytest.mark.parametrize("service", list(AUTHENTICATED_READS))
@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_access_token_is_a_401_problem(platform, service: str, forgery: str):
    token = FORGERIES[forgery](platform)
    response = await platform.client(service).get(
        AUTHENTICATED_READS[service], headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(response, 401, "token")
    assert response.headers["www-authenticate"].startswith("Bearer")
    await assert_still_serving(platform, service)


# --- SSRF in production mode: refused before anything connects -------------------------------------------


def _sample() -> dict[str, Any]:
    return json.loads(SAMPLE_CREDENTIAL.read_text(encoding="utf-8"))


def _credential(issuer: str, *, status_url: str | None = None) -> dict[str, Any]:
    credential = _sample()
    credential["issuer"] = {**credential["issuer"], "id": issuer}
    if status_url is not None:
        credential["credentialStatus"] = build_status_list_entry(
            list_url=status_url, index=7, status_purpose="revocation"
        )
    return credential


def _did_web(host_and_port: str) -> str:
    return "did:web:" + host_and_port.replace(":", "%3A")


def _ssrf_targets(port: int, ipv6_port: int) -> dict[str, str]:
    """Hosts (with port: a loopback listener's) the policy must refuse, keyed by what they are."""
    return {
        "loopback-ipv4": f"127.0.0.1:{port}",
        "loopback-ipv6": f"[::1]:{ipv6_port}",
        "name-resolving-to-loopback": f"loopback.remote.example:{port}",
        "name-with-one-loopback-answer": f"rebound.remote.example:{port}",
        "metadata-169.254.169.254": "169.254.169.254",
        "private-10.x": "10.0.0.7",
        "name-resolving-to-metadata": "metadata.remote.example",
        "name-resolving-to-10.x": "intranet.remote.example",
        "ipv4-mapped-loopback": f"[::ffff:127.0.0.1]:{port}",
    }


SSRF_TARGET_NAMES = list(_ssrf_targets(0, 0))
REFUSAL_WORDS = ("loopback", "link-local", "private", "metadata", "embeds")


def _names_a_refusal(text: str) -> bool:
    return "refused" in text.lower() or any(word in text for word in REFUSAL_WORDS)


async def _verify(platform: Platform, body: dict[str, Any]) -> dict[str, Any]:
    response = await platform.issuer.post("/v1/verify", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _failed_check(result: dict[str, Any], name: str) -> str:
    check = {entry["check"]: entry for entry in result["checks"]}[name]
    assert check["outcome"] == "failed", check
    return check["reason"]


@pytest.mark.parametrize("target", SSRF_TARGET_NAMES)
async def test_the_verifier_fetches_no_did_web_document_key_or_status_list_from_private_addresses(platform, target):
    before = platform.connections()
    host = platform.ssrf_target(target)
    signer = keys.generate_private_key("Ed25519")

    did = _did_web(host)
    signed = data_integrity.sign(_credential(did), signer, f"{did}#key-1")
    reason = _failed_check(await _verify(platform, signed), "signature")
    assert _names_a_refusal(reason) and "did.json" in reason, reason

    key_url = f"https://{host}/keys/1"
    token = vc_jwt.sign(_credential(f"https://{host}/issuer"), signer, kid=key_url)
    reason = _failed_check(await _verify(platform, {"jwt": token}), "signature")
    assert _names_a_refusal(reason), reason

    did_key = keys.did_key_for(signer.public_key())
    listed = _credential(did_key, status_url=f"https://{host}/status/1")
    signed = data_integrity.sign(listed, signer, keys.did_key_verification_method(did_key))
    reason = _failed_check(await _verify(platform, signed), "status")
    assert _names_a_refusal(reason), reason

    assert platform.connections() == before, "a refused URL was connected to"
    await assert_still_serving(platform, "badge_issuer")


@pytest.mark.parametrize("target", SSRF_TARGET_NAMES)
async def test_a_credential_taken_in_by_the_gap_engine_fetches_nothing_private(platform, target):
    """The gap engine verifies what it takes in through the issuer's verifier: the same policy holds."""
    before = platform.connections()
    host = platform.ssrf_target(target)
    signer = keys.generate_private_key("Ed25519")
    did = _did_web(host)
    signed = data_integrity.sign(_credential(did), signer, f"{did}#key-1")
    response = await platform.gap.post("/v1/employees/E-1/credentials", json=signed, headers=platform.headers)
    assert response.status_code < 500, response.text
    assert platform.connections() == before, "a refused URL was connected to"
    await assert_still_serving(platform, "gap_engine")


@pytest.mark.parametrize("target", SSRF_TARGET_NAMES)
async def test_a_webhook_subscription_to_a_private_address_is_refused_without_a_connection(platform, target):
    before = platform.connections()
    host = platform.ssrf_target(target)
    response = await platform.issuer.post(
        "/v1/webhook-subscriptions",
        json={"url": f"https://{host}/hooks"},
        headers={**platform.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    problem = assert_problem(response, 422)
    assert _names_a_refusal(problem["detail"]), problem
    plain = await platform.issuer.post(
        "/v1/webhook-subscriptions",
        json={"url": f"http://{host}/hooks"},
        headers={**platform.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert "scheme" in assert_problem(plain, 422)["detail"]
    assert platform.connections() == before, "a refused URL was connected to"
    await assert_still_serving(platform, "badge_issuer")


async def test_the_loopback_listeners_do_count_a_connection(platform):
    """The proof above means something: a plain connection to the listener is counted."""
    before = platform.accepted()
    with socket.create_connection(("127.0.0.1", platform.loopback_port), timeout=2):
        pass
    await anyio.to_thread.run_sync(platform.listeners[0].wait_for, before + 1)
    assert platform.accepted() == before + 1


# --- a gzip bomb as a status list --------------------------------------------------------------------


async def test_a_status_list_that_inflates_past_its_bound_fails_the_status_check(platform):
    signer = keys.generate_private_key("Ed25519")
    did_key = keys.did_key_for(signer.public_key())
    method = keys.did_key_verification_method(did_key)
    list_url = f"https://{LISTS_HOST}/status/bomb"
    bomb = _b64url(gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9))  # 64 MiB of zeros in ~64 KiB
    status_list = build_status_list_credential(
        list_url=list_url,
        issuer=did_key,
        status_purpose="revocation",
        encoded_list="u" + bomb,
        valid_from=datetime.now(UTC) - timedelta(days=1),
    )
    platform.web.serve(
        list_url, data_integrity.sign(status_list, signer, method), content_type="application/vc+ld+json"
    )
    credential = data_integrity.sign(_credential(did_key, status_url=list_url), signer, method)
    reason = _failed_check(await _verify(platform, credential), "status")
    assert "decompress" in reason or "bomb" in reason or "more than" in reason, reason
    await assert_still_serving(platform, "badge_issuer")
