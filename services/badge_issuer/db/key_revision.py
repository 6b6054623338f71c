"""This service's own public keys, cached per replica under the issuer key revision.

Verifying one of our credentials needs its key (and whether the key was revoked as compromised): one
query per verification, and by profile most of a verification's cost. The cache keeps the outcome of
that lookup under `issuer_key_revision.revision`, which database triggers move with every change to
issuer_keys, so a lookup is reused only while no key was added, retired, compromised or deleted since.

The revision is read at most once per `revision_ttl_seconds` (one query for every request waiting) and
at once after this replica changed a key, so a key compromised through another replica stops verifying
here within that bound. Nothing here is needed by another replica: a replica that misses reads the
database.
"""

from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from services.badge_issuer.db.tables import IssuerKey, IssuerKeyRevision
from shared.db import scalar_outside_transaction
from shared.read_cache import RevisionedCache

OWNER = "issuer_keys"
SESSION_KEY = "own_key_cache"
V = TypeVar("V")


class OwnKeyCache(Generic[V]):
    """Lookups by key reference (a kid or a DID), each filed under the revision it was made at."""

    def __init__(self, *, revision_ttl_seconds: float, max_entries: int = 4096) -> None:
        self._cache: RevisionedCache[V] = RevisionedCache(
            max_entries=max_entries, revision_ttl_seconds=revision_ttl_seconds
        )

    @property
    def revision_ttl_seconds(self) -> float:
        return self._cache.revision_ttl_seconds

    @revision_ttl_seconds.setter
    def revision_ttl_seconds(self, seconds: float) -> None:
        self._cache.revision_ttl_seconds = seconds

    async def revision(self, session: AsyncSession) -> int:
        """Read before the lookup it labels, so a lookup is never older than its revision."""

        async def read() -> int:
            current = await scalar_outside_transaction(session, select(IssuerKeyRevision.revision))
            return int(current or 0)

        return await self._cache.revision(OWNER, read)

    def get(self, reference: Hashable, revision: int) -> V | None:
        return self._cache.get(reference, revision)

    def put(self, reference: Hashable, revision: int, outcome: V) -> None:
        self._cache.put(reference, revision, outcome)

    def forget_revision(self) -> None:
        self._cache.forget_revisions([OWNER])


def own_key_cache(session: AsyncSession) -> OwnKeyCache[Any] | None:
    """The app's cache, carried in its sessions' info (None: a session made without one reads the
    database every time)."""
    return session.info.get(SESSION_KEY)


class IssuerSession(Session):
    """The issuer's sessions: a commit that changed a key (by flush or by statement) makes this replica
    re-read the revision at once."""


@event.listens_for(IssuerSession, "before_flush")
def _note_key_changes(session: Session, _context: Any, _instances: Any) -> None:
    if any(isinstance(row, IssuerKey) for row in (*session.new, *session.dirty, *session.deleted)):
        session.info["issuer_keys_changed"] = True


@event.listens_for(IssuerSession, "do_orm_execute")
def _note_key_statements(state: ORMExecuteState) -> None:
    """An UPDATE / DELETE / INSERT statement on issuer_keys through the session, not a flush."""
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)  # an annotated copy: compared by name
        if getattr(table, "name", None) == IssuerKey.__tablename__:
            state.session.info["issuer_keys_changed"] = True


@event.listens_for(IssuerSession, "after_commit")
def _forget_local_revision(session: Session) -> None:
    cache: OwnKeyCache[Any] | None = session.info.get(SESSION_KEY)
    if session.info.pop("issuer_keys_changed", False) and cache is not None:
        cache.forget_revision()


@event.listens_for(IssuerSession, "after_rollback")
def _drop_pending_changes(session: Session) -> None:
    session.info.pop("issuer_keys_changed", None)
