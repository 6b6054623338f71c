"""Values (serialised read responses, looked-up keys) valid while their owner's revision is unchanged.

Each replica keeps its own; a replica that misses rebuilds from the database, so nothing here is
needed by another replica. A body is filed under the owner's revision, which is bumped in the same
transaction as every write and read before the data, so a body is never older than its revision.

The owner's current revision is itself re-read from the database at most every `revision_ttl_seconds`
(and at once after a write through this replica), so a change made through another replica is seen
within that bound. Zero re-reads it on every request.
"""

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

from shared.http_cache import SingleFlight

V = TypeVar("V")


class RevisionedCache(Generic[V]):
    def __init__(self, *, max_entries: int = 10_000, revision_ttl_seconds: float = 0.2) -> None:
        self.max_entries = max_entries
        self.revision_ttl_seconds = revision_ttl_seconds
        self._entries: OrderedDict[Hashable, tuple[int, V]] = OrderedDict()
        self._revisions: dict[Hashable, tuple[float, int]] = {}
        self._refreshes = SingleFlight()
        self._forgets = 0  # moves with every forget_revisions

    async def revision(self, owner: Hashable, read: Callable[[], Awaitable[int]]) -> int:
        """The owner's revision: remembered while fresh, else `read()` once for every request waiting.

        The waiters share one outcome and all wake when it lands. A lock taken in turn (as it was)
        woke them one per event-loop turn, so under 32 clients an expiry held the last ~200 ms."""
        revision = self.known_revision(owner)
        if revision is not None:
            return revision
        return await self._refreshes.run(owner, lambda: self._refresh(owner, read))

    async def _refresh(self, owner: Hashable, read: Callable[[], Awaitable[int]]) -> int:
        forgets = self._forgets
        revision = await read()
        if self._forgets == forgets:  # else it may predate a local write: used, not kept
            self.remember_revision(owner, revision)
        return revision

    def known_revision(self, owner: Hashable) -> int | None:
        known = self._revisions.get(owner)
        if known is None or time.monotonic() - known[0] >= self.revision_ttl_seconds:
            return None
        return known[1]

    def remember_revision(self, owner: Hashable, revision: int) -> None:
        if len(self._revisions) >= self.max_entries:
            self._revisions.clear()
        self._revisions[owner] = (time.monotonic(), revision)

    def forget_revisions(self, owners: Iterable[Hashable]) -> None:
        """After a local write: the next request asks the database for the new revision, even while
        a read begun before the write is still on its way (its answer is not remembered)."""
        for owner in owners:
            self._revisions.pop(owner, None)
            self._refreshes.abandon(owner)
        self._forgets += 1

    def get(self, key: Hashable, revision: int) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != revision:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Hashable, revision: int, value: V) -> None:
        self._entries[key] = (revision, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
