"""Fetching the documents an OB 2.0 badge names, through the guarded fetcher and within a budget.

An assertion names its BadgeClass, which names its issuer Profile, which names keys and a revocation
list: each is someone else's URL. Every one goes through `SafeFetcher` (https, public addresses, a
deadline, a size cap, re-vetted redirects), and one verification fetches at most `MAX_FETCHES`
documents, so a badge cannot keep a public request busy or walk the verifier around the web.
"""

from collections.abc import Mapping
from typing import Any

from shared.safe_fetch import JSON_TYPES, FetchError, SafeFetcher

# Hosted: assertion, BadgeClass, Profile. Signed: BadgeClass, Profile, key, revocation list.
MAX_FETCHES = 6


class DocumentUnavailable(ValueError):
    """A document could not be had; the message says which and why. `gone` is HTTP 410, which
    for a hosted assertion means revoked (OB 2.0 §Revoking Hosted Assertions)."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class BoundedFetcher:
    """JSON documents for one verification: each URL fetched once, at most `MAX_FETCHES` in all."""

    def __init__(self, fetcher: SafeFetcher | None, max_fetches: int = MAX_FETCHES) -> None:
        self.fetcher = fetcher
        self.max_fetches = max_fetches
        self.fetches = 0
        self._documents: dict[str, Mapping[str, Any]] = {}

    async def json_object(self, url: str, what: str) -> Mapping[str, Any]:
        if url in self._documents:
            return self._documents[url]
        if self.fetcher is None:
            raise DocumentUnavailable(f"{what} would have to be fetched from {url}, and this verifier fetches nothing")
        if self.fetches >= self.max_fetches:
            raise DocumentUnavailable(f"{what} is not fetched: one verification fetches at most {self.max_fetches}")
        self.fetches += 1
        try:
            document = (await self.fetcher.fetch(url, accept=JSON_TYPES)).json()
        except FetchError as error:
            gone = error.code == "status" and error.reason == "HTTP 410"
            raise DocumentUnavailable(
                f"{what} could not be fetched from {url}: {error.reason} ({error.code})", gone=gone
            ) from error
        if not isinstance(document, Mapping):
            raise DocumentUnavailable(f"{what} at {url} is not a JSON object")
        self._documents[url] = document
        return document
