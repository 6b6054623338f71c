"""Fetching untrusted URLs without becoming a proxy into the private network (SSRF).

A credential, a DID, a `kid` or a webhook subscription names a URL that someone else chose. Before
any byte is sent, the URL is vetted: https only (plain http only for configured hosts), no userinfo,
and the host's every resolved address must be public (not loopback, private, link-local — which holds
the cloud metadata address 169.254.169.254 —, CGNAT, multicast, reserved or unspecified, in IPv4 or
IPv6, IPv4-mapped, 6to4, Teredo and NAT64 forms unwrapped) unless the host or the network is
allowlisted. Each redirect hop is vetted again; the whole exchange has one deadline; the body is
capped while it streams.

DNS rebinding: a vetted name is not resolved a second time by the HTTP stack. The request goes to
the vetted address itself, with the name kept in the Host header and as the TLS SNI / certificate
name (httpcore's `sni_hostname`), so the answer that was checked is the one connected to. What
remains: an allowlisted host is trusted as configured (it is resolved by the transport, not pinned),
and no environment proxy is used (`trust_env=False`): a deployment that must egress through a proxy
moves the address check to that proxy.

The transport is injectable (tests serve documents in process) and so is the resolver, but the
policy always runs before either: tests exercise the real refusals.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx
import orjson

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

JSON_TYPES = frozenset({"application/json", "+json"})
"""Accept any JSON media type: application/json and every structured `+json` suffix."""
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 (CGNAT)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the low 32 bits are an IPv4 address
_METADATA = ipaddress.ip_address("169.254.169.254")


class FetchError(Exception):
    """A fetch failed; `code` is stable for programs, the message says why in words."""

    def __init__(self, code: str, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.code = code
        self.url = url
        self.reason = reason


class URLRefused(FetchError):
    """The policy refused the URL before anything was sent (scheme, address, userinfo, DNS)."""


def address_refusal(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"it embeds {embedded}, which is {inner}" if inner else None
    if address == _METADATA:
        return "the cloud metadata address (link-local)"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE, "a shared (CGNAT) address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a globally routable address"),
    )
    return next((name for refused, name in checks if refused), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4, Teredo or NAT64 address reaches."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (A and AAAA)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _normal_host(host: str) -> str:
    return host.lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What may be fetched. Defaults are the production ones: https to public addresses only."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    allow_http_hosts: frozenset[str] = frozenset()
    timeout_seconds: float = 5.0
    max_bytes: int = 1_048_576
    max_redirects: int = 3
    cache_max_entries: int = 256
    cache_max_ttl_seconds: int = 300
    # Documents an operator pinned (air-gapped sites, tests): URL -> the document, served without any
    # connection. A pinned DID document, JWKS or status list is what the verifier uses for that URL.
    pinned: Mapping[str, PinnedDocument] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        allowed_hosts: Iterable[str] = (),
        allowed_networks: Iterable[str] = (),
        allow_http_hosts: Iterable[str] = (),
        pinned_files: Mapping[str, Path] | None = None,
        **limits: Any,
    ) -> FetchPolicy:
        return cls(
            allowed_hosts=frozenset(_normal_host(host) for host in allowed_hosts),
            allowed_networks=tuple(ipaddress.ip_network(network, strict=False) for network in allowed_networks),
            allow_http_hosts=frozenset(_normal_host(host) for host in allow_http_hosts),
            pinned={url: PinnedDocument.read(path) for url, path in (pinned_files or {}).items()},
            **limits,
        )


@dataclass(frozen=True, slots=True)
class PinnedDocument:
    content_type: str
    content: bytes = field(repr=False)

    @classmethod
    def read(cls, path: Path) -> PinnedDocument:
        """A file's bytes; `.jwt` files are compact JWTs (a status list as VC-JWT), anything else JSON."""
        kind = "application/vc+jwt" if path.suffix == ".jwt" else "application/json"
        return cls(kind, path.read_bytes())


@dataclass(frozen=True, slots=True)
class VettedURL:
    """A URL the policy accepted: where to connect (`address`, when pinned) and under which name."""

    url: httpx.URL
    host: str
    address: str | None  # None: an allowlisted host, connected to by name


@dataclass(frozen=True, slots=True)
class FetchedDocument:
    """A fetched body (within the size cap) and where it finally came from. `status_code` 304 (only
    when the caller sent If-None-Match): the copy the caller holds is current, and there is no body."""

    url: str
    status_code: int
    content_type: str
    content: bytes = field(repr=False)
    etag: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304

    def json(self) -> Any:
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError as error:
            raise FetchError("bad_json", self.url, f"the response is not JSON: {error}") from error


class _TTLCache:
    """A small LRU of fetched documents with per-entry expiry (Cache-Control max-age, capped)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, FetchedDocument]] = OrderedDict()

    def get(self, key: str) -> FetchedDocument | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, document: FetchedDocument, ttl: float) -> None:
        if ttl <= 0 or self.max_entries <= 0:
            return
        self._entries[key] = (time.monotonic() + ttl, document)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def cache_ttl(headers: Mapping[str, str], ceiling: int) -> int:
    """Seconds a response may be reused: its max-age, at most `ceiling`; 0 without one or with
    no-store / no-cache / private (a status list must not be served stale beyond what it allows)."""
    directives = [part.strip().lower() for part in headers.get("cache-control", "").split(",")]
    if any(directive in {"no-store", "no-cache", "private"} for directive in directives):
        return 0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.strip().isdigit():
            return min(int(value), ceiling)
    return 0


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _acceptable(media_type: str, accept: Collection[str]) -> bool:
    if media_type in accept:
        return True
    return any(kind.startswith("+") and media_type.endswith(kind) for kind in accept)


class SafeFetcher:
    """Fetches untrusted URLs under a `FetchPolicy`. One per application; close it on shutdown."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = resolver or system_resolver
        self._cache = _TTLCache(policy.cache_max_entries)
        # Redirects are followed here (each hop vetted), never by httpx; no proxy from the environment.
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def vet(self, url: str) -> VettedURL:
        """Apply the policy to `url` (resolving its host); raise `URLRefused` naming why."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as error:
            raise URLRefused("invalid_url", str(url), f"not a URL: {error}") from error
        host = _normal_host(parsed.host)
        if not host:
            raise URLRefused("invalid_url", url, "the URL has no host")
        if parsed.userinfo:
            raise URLRefused("userinfo", url, "credentials in the URL are not sent")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and host in self.policy.allow_http_hosts):
            allowed = "https only" + (", or http for configured hosts" if self.policy.allow_http_hosts else "")
            raise URLRefused("scheme", url, f"scheme {parsed.scheme!r} is refused ({allowed})")
        if host in self.policy.allowed_hosts:
            return VettedURL(parsed, host, None)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = await self._addresses(url, host, port)
        for address in addresses:
            refusal = None if self._allowed_network(address) else address_refusal(address)
            if refusal:
                raise URLRefused("address", url, f"{host} resolves to {address}, {refusal}")
        return VettedURL(parsed, host, str(addresses[0]))

    async def _addresses(self, url: str, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                found = await self._resolver(host, port)
        except TimeoutError as error:
            raise URLRefused("unresolvable", url, f"{host}: DNS gave no answer in time") from error
        except (OSError, UnicodeError) as error:
            raise URLRefused("unresolvable", url, f"{host} does not resolve: {error}") from error
        addresses = []
        for value in found:
            try:
                addresses.append(ipaddress.ip_address(value.split("%", 1)[0]))  # drop an IPv6 zone id
            except ValueError as error:
                raise URLRefused("unresolvable", url, f"{host} resolved to {value!r}") from error
        if not addresses:
            raise URLRefused("unresolvable", url, f"{host} has no address")
        return addresses

    def _allowed_network(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.policy.allowed_networks)

    def _request(
        self, method: str, vetted: VettedURL, headers: Mapping[str, str], content: bytes | None
    ) -> httpx.Request:
        """The request, sent to the vetted address (not re-resolved) under the original name."""
        url, extensions = vetted.url, {}
        request_headers = dict(headers)
        if vetted.address is not None and vetted.address != vetted.host.strip("[]"):
            request_headers["Host"] = vetted.url.netloc.decode("ascii").rsplit("@", 1)[-1]
            url = vetted.url.copy_with(host=vetted.address)
            extensions["sni_hostname"] = vetted.host
        return self._http.build_request(
            method, url, headers=request_headers, content=content, extensions=extensions or None
        )

    async def fetch(
        self,
        url: str,
        *,
        accept: Collection[str] = JSON_TYPES,
        use_cache: bool = True,
        if_none_match: str | None = None,
    ) -> FetchedDocument:
        """GET `url` under the policy: redirects re-vetted, one deadline, body capped, media type checked.
        With `if_none_match` (an ETag the caller kept) the request is conditional and bypasses the
        in-memory cache: a 304 comes back as a bodiless document with `not_modified` true."""
        pinned = self.policy.pinned.get(url)
        if pinned is not None:
            if not _acceptable(_media_type(pinned.content_type), accept):
                raise FetchError("media_type", url, f"the pinned document is {pinned.content_type}")
            return FetchedDocument(url, 200, pinned.content_type, pinned.content)
        key = f"{url} {sorted(accept)}"
        use_cache = use_cache and if_none_match is None
        if use_cache and (cached := self._cache.get(key)) is not None:
            return cached
        async with self._deadline(url):
            document, ttl = await self._get(url, accept, if_none_match)
        if use_cache:
            self._cache.put(key, document, ttl)
        return document

    async def _get(
        self, url: str, accept: Collection[str], if_none_match: str | None = None
    ) -> tuple[FetchedDocument, int]:
        current = url
        headers = {"Accept": ", ".join(sorted({kind if "/" in kind else "application/json" for kind in accept}))}
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        for _hop in range(self.policy.max_redirects + 1):
            vetted = await self.vet(current)
            response = await self._http.send(self._request("GET", vetted, headers, None), stream=True)
            try:
                if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                etag = response.headers.get("etag")
                if response.status_code == 304 and if_none_match:
                    return FetchedDocument(current, 304, "", b"", etag or if_none_match), 0
                if response.status_code != 200:
                    raise FetchError("status", current, f"HTTP {response.status_code}")
                document = await self._read_document(response, current, accept, etag)
                return document, cache_ttl(response.headers, self.policy.cache_max_ttl_seconds)
            finally:
                await response.aclose()
        raise FetchError("redirects", url, f"more than {self.policy.max_redirects} redirects")

    async def _read_document(
        self, response: httpx.Response, url: str, accept: Collection[str], etag: str | None = None
    ) -> FetchedDocument:
        content_type = response.headers.get("content-type", "")
        if not _acceptable(_media_type(content_type), accept):
            expected = ", ".join(sorted(accept))
            raise FetchError("content_type", url, f"content type {content_type!r} is not {expected}")
        content = await self._read_capped(response, url)
        return FetchedDocument(url, response.status_code, _media_type(content_type), content, etag)

    async def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError("too_large", url, f"the body is {declared} bytes; the limit is {limit}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise FetchError("too_large", url, f"the body exceeds the limit of {limit} bytes")
        return bytes(body)

    @contextlib.asynccontextmanager
    async def _deadline(self, url: str) -> AsyncIterator[None]:
        """One deadline over the whole exchange; transport failures become `FetchError`s."""
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                yield
        except TimeoutError as error:
            raise FetchError("timeout", url, f"no complete answer within {self.policy.timeout_seconds:g} s") from error
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise FetchError("connection", url, f"{type(error).__name__}: {error}") from error

    async def post(self, url: str, *, content: bytes, headers: Mapping[str, str]) -> int:
        """POST `url` under the policy (no redirect followed: a 3xx is the answer); returns the status.
        The answer's body is never read (a receiver's reply is not our business, nor our memory's)."""
        async with self._deadline(url):
            vetted = await self.vet(url)
            response = await self._http.send(self._request("POST", vetted, headers, content), stream=True)
            await response.aclose()
        return response.status_code

    async def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> FetchedDocument:
        """POST a urlencoded form under the policy and read its JSON answer, whatever the status (an
        OAuth token endpoint answers errors as JSON too): no redirect followed, one deadline, body capped."""
        request_headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **(headers or {}),
        }
        async with self._deadline(url):
            vetted = await self.vet(url)
            request = self._request("POST", vetted, request_headers, urlencode(form).encode())
            response = await self._http.send(request, stream=True)
            try:
                return await self._read_document(response, url, JSON_TYPES)
            finally:
                await response.aclose()
