"""Offline-first verification: an operator pins a DID document and a status list for their URLs, and
the verifier uses them with no connection at all (air-gapped sites; also how tests avoid the network)."""

import json

import httpx

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.proofs import keys
from tests.badge_issuer.conftest import checks_of, verify_json
from tests.badge_issuer.test_verify_remote import DID, LIST_URL, RemoteIssuer, _credential
from tests.conftest import asgi_client


class NoNetwork:
    """Stands in for the resolver and the transport: any attempt to reach a host is recorded."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.attempts.append(host)
        raise OSError(f"no network: {host}")

    def transport(self) -> httpx.MockTransport:
        def refuse(request: httpx.Request) -> httpx.Response:
            self.attempts.append(str(request.url))
            raise httpx.ConnectError("no network", request=request)

        return httpx.MockTransport(refuse)


async def test_pinned_documents_verify_a_remote_credential_without_any_connection(
    issuer_settings, taxonomy_app, remote_web, sample_credential, tmp_path
):
    remote = RemoteIssuer(remote_web)
    (tmp_path / "did.json").write_text(json.dumps(remote.document()))
    (tmp_path / "list.json").write_text(json.dumps(remote.status_list(7)))
    pins = {keys.did_web_document_url(DID): tmp_path / "did.json", LIST_URL: tmp_path / "list.json"}
    offline = NoNetwork()
    app = create_issuer_app(
        issuer_settings(fetch_pinned_documents=pins),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        fetch_transport=offline.transport(),
        fetch_resolver=offline.resolve,
    )
    async for client in asgi_client(app):
        valid = await verify_json(client, remote.sign(_credential(sample_credential, DID, status_index=3)))
        assert valid["verified"] is True, valid["failures"]
        revoked = await verify_json(client, remote.sign(_credential(sample_credential, DID, status_index=7)))
        assert revoked["verified"] is False and checks_of(revoked)["status"]["outcome"] == "failed"
        # Not pinned: the fetch is attempted (and fails here), so pins are exact, not a wildcard.
        stranger = RemoteIssuer(remote_web, "did:web:unpinned.example")
        unpinned = await verify_json(client, stranger.sign(_credential(sample_credential, stranger.did)))
        assert unpinned["verified"] is False
    assert offline.attempts == ["unpinned.example"]
    await app.state.taxonomy.http.aclose()
    await app.state.fetcher.aclose()
