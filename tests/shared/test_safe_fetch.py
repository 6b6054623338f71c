"""The outbound policy: what an untrusted URL may reach, and how much of it is read."""

import asyncio
import ipaddress

import pytest

from shared.safe_fetch import (
    FetchError,
    FetchPolicy,
    SafeFetcher,
    URLRefused,
    address_refusal,
    cache_ttl,
)
from tests.shared.remote_web import PUBLIC_ADDRESS, RemoteWeb


@pytest.fixture
def web() -> RemoteWeb:
    return RemoteWeb()


@pytest.fixture
def fetcher(web):
    """A production policy with short limits; the network is `web` (its names, else the system's DNS)."""

    def build(**policy) -> SafeFetcher:  # noqa: ANN003
        values = {"timeout_seconds": 0.5, "max_bytes": 4096, "max_redirects": 2, **policy}
        return SafeFetcher(FetchPolicy.build(**values), transport=web.transport, resolver=web.resolve)

    return build


async def _refusal(fetcher: SafeFetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    return caught.value


def test_every_non_public_address_is_refused_with_its_kind():
    expected = {
        "127.0.0.1": "loopback",
        "10.0.0.5": "private",
        "172.16.3.4": "private",
        "192.168.1.1": "private",
        "169.254.169.254": "metadata",
        "169.254.10.10": "link-local",
        "100.64.0.1": "CGNAT",
        "224.0.0.251": "multicast",
        "0.0.0.0": "unspecified",  # noqa: S104 - an address under test, nothing binds to it
        "240.0.0.1": "private",  # reserved: Python files 240/4 under is_private
        "::1": "loopback",
        "::": "unspecified",
        "fe80::1": "link-local",
        "fc00::1": "private",
        "fec0::1": "site-local",
        "ff02::1": "multicast",
        "::ffff:127.0.0.1": "embeds 127.0.0.1",
        "::ffff:169.254.169.254": "metadata",
        "2002:a00:1::": "embeds 10.0.0.1",
        "64:ff9b::a00:1": "embeds 10.0.0.1",
        "2001:db8::1": "private",
    }
    for address, kind in expected.items():
        refusal = address_refusal(ipaddress.ip_address(address))
        assert refusal is not None and kind in refusal, (address, refusal)
    for public in ("93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        assert address_refusal(ipaddress.ip_address(public)) is None, public


async def test_private_and_loopback_urls_are_refused_before_anything_is_sent(fetcher, web):
    safe = fetcher()
    cases = {
        "https://localhost/did.json": "loopback",
        "https://127.0.0.1/did.json": "loopback",
        "https://10.0.0.5/did.json": "private",
        "https://[::1]/did.json": "loopback",
        "https://169.254.169.254/latest/meta-data/": "metadata",
        "https://[::ffff:10.0.0.5]/x": "embeds 10.0.0.5",
        "https://2130706433/x": "loopback",  # 127.0.0.1 as one decimal number, resolved then checked
    }
    for url, kind in cases.items():
        refusal = await _refusal(safe, url)
        assert isinstance(refusal, URLRefused) and refusal.code == "address", (url, refusal)
        assert kind in refusal.reason, (url, refusal.reason)
    assert web.requests == []


async def test_a_name_resolving_to_any_private_address_is_refused(fetcher, web):
    web.host("rebind.example", PUBLIC_ADDRESS, "10.1.2.3")
    refusal = await _refusal(fetcher(), "https://rebind.example/did.json")
    assert refusal.code == "address" and "rebind.example resolves to 10.1.2.3, a private address" in refusal.reason
    assert web.requests == []


async def test_scheme_userinfo_and_unresolvable_names_are_named(fetcher):
    safe = fetcher()
    assert (await _refusal(safe, "http://issuer.example/did.json")).code == "scheme"
    assert (await _refusal(safe, "ftp://issuer.example/did.json")).code == "scheme"
    assert (await _refusal(safe, "file:///etc/passwd")).code in {"scheme", "invalid_url"}
    assert (await _refusal(safe, "https://user:pw@issuer.example/x")).code == "userinfo"
    refusal = await _refusal(safe, "https://nowhere.invalid/x")
    assert refusal.code == "unresolvable" and "does not resolve" in refusal.reason


async def test_a_public_name_is_connected_to_at_the_vetted_address(fetcher, web):
    """DNS rebinding: the request goes to the address that was checked, the name in Host and SNI."""
    web.serve("https://issuer.example/.well-known/did.json", {"id": "did:web:issuer.example"})
    document = await fetcher().fetch("https://issuer.example/.well-known/did.json")
    assert document.json() == {"id": "did:web:issuer.example"}
    [request] = web.requests
    assert request.url.host == PUBLIC_ADDRESS
    assert request.headers["host"] == "issuer.example"
    assert request.extensions["sni_hostname"] == "issuer.example"


async def test_each_redirect_hop_is_vetted_again(fetcher, web):
    web.serve("https://issuer.example/jwks", b"", status=302, headers={"location": "https://10.0.0.5/jwks"})
    refusal = await _refusal(fetcher(), "https://issuer.example/jwks")
    assert isinstance(refusal, URLRefused) and "10.0.0.5" in refusal.reason
    web.serve("https://issuer.example/a", b"", status=301, headers={"location": "/b"})
    web.serve("https://issuer.example/b", b"", status=301, headers={"location": "/c"})
    web.serve("https://issuer.example/c", b"", status=301, headers={"location": "/d"})
    web.serve("https://issuer.example/d", {"ok": True})
    assert (await _refusal(fetcher(), "https://issuer.example/a")).code == "redirects"
    assert (await fetcher(max_redirects=3).fetch("https://issuer.example/a")).url == "https://issuer.example/d"
    web.serve("https://issuer.example/down", b"", status=302, headers={"location": "http://issuer.example/d"})
    assert (await _refusal(fetcher(), "https://issuer.example/down")).code == "scheme"


async def test_bodies_over_the_limit_are_refused_declared_or_streamed(fetcher, web):
    web.serve("https://big.example/declared", b"x" * 5000, content_type="application/json")
    web.serve("https://big.example/streamed", b"x" * 50_000, content_type="application/json", chunks=50)
    for path in ("declared", "streamed"):
        refusal = await _refusal(fetcher(), f"https://big.example/{path}")
        assert refusal.code == "too_large" and "4096" in refusal.reason


async def test_a_slow_server_hits_the_deadline(fetcher, web):
    web.serve("https://slow.example/list", {"ok": True}, delay_seconds=5)
    refusal = await _refusal(fetcher(timeout_seconds=0.2), "https://slow.example/list")
    assert refusal.code == "timeout" and "0.2 s" in refusal.reason


async def test_content_type_status_and_json_are_checked(fetcher, web):
    web.serve("https://issuer.example/page", b"<html>", content_type="text/html")
    web.serve("https://issuer.example/did+json", {"id": 1}, content_type="application/did+json")
    web.serve("https://issuer.example/broken", b"{not json", content_type="application/json")
    safe = fetcher()
    assert (await _refusal(safe, "https://issuer.example/page")).code == "content_type"
    assert (await safe.fetch("https://issuer.example/did+json")).json() == {"id": 1}
    assert (await _refusal(safe, "https://issuer.example/missing")).reason == "HTTP 404"
    with pytest.raises(FetchError) as caught:
        (await safe.fetch("https://issuer.example/broken")).json()
    assert caught.value.code == "bad_json"


async def test_allowlists_open_only_what_they_name(fetcher, web):
    web.serve("http://hris.internal/hook", {"ok": True})
    web.host("hris.internal", "10.20.0.7")
    assert (await _refusal(fetcher(), "http://hris.internal/hook")).code == "scheme"
    assert (await _refusal(fetcher(allow_http_hosts=["hris.internal"]), "http://hris.internal/hook")).code == "address"
    by_network = fetcher(allow_http_hosts=["hris.internal"], allowed_networks=["10.20.0.0/16"])
    assert (await by_network.fetch("http://hris.internal/hook")).json() == {"ok": True}
    by_host = fetcher(allowed_hosts=["HRIS.internal"], allow_http_hosts=["hris.internal"])
    assert (await by_host.fetch("http://hris.internal/hook")).json() == {"ok": True}
    assert (await _refusal(by_network, "https://10.21.0.1/x")).code == "address"


async def test_documents_are_cached_for_their_max_age_within_the_ceiling(fetcher, web):
    web.serve("https://issuer.example/cached", {"v": 1}, headers={"cache-control": "public, max-age=60"})
    web.serve("https://issuer.example/fresh", {"v": 1}, headers={"cache-control": "no-store"})
    safe = fetcher()
    for _ in range(3):
        await safe.fetch("https://issuer.example/cached")
        await safe.fetch("https://issuer.example/fresh")
    paths = [request.url.path for request in web.requests]
    assert paths.count("/cached") == 1 and paths.count("/fresh") == 3
    assert cache_ttl({"cache-control": "max-age=999999"}, 300) == 300
    assert cache_ttl({}, 300) == 0 and cache_ttl({"cache-control": "private, max-age=60"}, 300) == 0
    tiny = fetcher(cache_max_entries=1)
    web.serve("https://issuer.example/other", {"v": 2}, headers={"cache-control": "max-age=60"})
    await tiny.fetch("https://issuer.example/cached")
    await tiny.fetch("https://issuer.example/other")
    await tiny.fetch("https://issuer.example/cached")  # evicted by /other: fetched again
    assert [r.url.path for r in web.requests].count("/cached") == 3


async def test_posts_are_vetted_and_never_follow_redirects(fetcher, web):
    web.serve("https://hooks.example/in", b"", status=204)
    web.serve("https://hooks.example/moved", b"", status=307, headers={"location": "https://10.0.0.5/in"})
    safe = fetcher()
    assert await safe.post("https://hooks.example/in", content=b"{}", headers={"webhook-id": "msg_1"}) == 204
    assert await safe.post("https://hooks.example/moved", content=b"{}", headers={}) == 307
    with pytest.raises(URLRefused) as caught:
        await safe.post("https://127.0.0.1/in", content=b"{}", headers={})
    assert "loopback" in caught.value.reason
    assert [request.url.path for request in web.requests] == ["/in", "/moved"]
    assert web.requests[0].content == b"{}" and web.requests[0].headers["webhook-id"] == "msg_1"


async def test_a_resolver_that_never_answers_is_given_up_on(web):
    async def silent(host: str, port: int) -> list[str]:
        await asyncio.sleep(5)
        return []

    safe = SafeFetcher(FetchPolicy.build(timeout_seconds=0.2), transport=web.transport, resolver=silent)
    with pytest.raises(URLRefused) as caught:
        await safe.vet("https://slow-dns.example/")
    assert caught.value.code == "unresolvable" and "no answer in time" in caught.value.reason


async def test_the_real_transport_connects_to_the_vetted_address_under_the_name():
    """With httpx's own transport: a name the resolver maps to loopback (allowed here by network) is
    connected to at that address, the server seeing the name in Host. Loopback only, bounded."""
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        body = b'{"ok":true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "pinned.example" else []

    policy = FetchPolicy.build(allow_http_hosts=["pinned.example"], allowed_networks=["127.0.0.0/8"])
    safe = SafeFetcher(policy, resolver=resolve)
    try:
        document = await safe.fetch(f"http://pinned.example:{port}/doc")
    finally:
        await safe.aclose()
        server.close()
        await server.wait_closed()
    assert document.json() == {"ok": True}
    assert f"host: pinned.example:{port}".encode() in seen[0].lower()


async def test_a_conditional_get_answers_not_modified_without_a_body(fetcher, web):
    fetcher, url = fetcher(), "https://lists.example/status/1"
    web.serve(url, {"list": 1}, headers={"etag": '"v1"'})
    first = await fetcher.fetch(url, if_none_match='"v0"')
    assert first.status_code == 200 and first.etag == '"v1"' and first.json() == {"list": 1}
    web.serve(url, b"", status=304, headers={"etag": '"v1"'})
    again = await fetcher.fetch(url, if_none_match='"v1"')
    assert again.not_modified and again.content == b"" and again.etag == '"v1"'
    assert [request.headers.get("if-none-match") for request in web.requests] == ['"v0"', '"v1"']
    # Without a kept ETag a 304 is no answer at all.
    with pytest.raises(FetchError, match="HTTP 304"):
        await fetcher.fetch(url, use_cache=False)


async def test_a_form_post_is_vetted_reads_its_json_answer_capped_and_follows_no_redirect(fetcher, web):
    web.serve("https://idp.example/token", {"error": "invalid_grant"}, status=400)
    web.serve("https://idp.example/moved", b"", status=307, headers={"location": "https://10.0.0.5/token"})
    web.serve("https://idp.example/huge", {"padding": "x" * 8192})
    web.serve("https://idp.example/page", "<html></html>", content_type="text/html")
    safe = fetcher()
    answer = await safe.post_form("https://idp.example/token", {"grant_type": "authorization_code", "code": "a b"})
    assert answer.status_code == 400 and answer.json() == {"error": "invalid_grant"}
    sent = web.requests[-1]
    assert sent.method == "POST" and sent.content == b"grant_type=authorization_code&code=a+b"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert (await safe.post_form("https://idp.example/moved", {})).status_code == 307  # the answer, not followed
    with pytest.raises(FetchError) as huge:
        await safe.post_form("https://idp.example/huge", {})
    assert huge.value.code == "too_large"
    with pytest.raises(FetchError) as html:
        await safe.post_form("https://idp.example/page", {})
    assert html.value.code == "content_type"
    with pytest.raises(URLRefused) as refused:
        await safe.post_form("https://10.0.0.5/token", {})
    assert "private" in refused.value.reason
    assert [request.url.path for request in web.requests] == ["/token", "/moved", "/huge", "/page"]
