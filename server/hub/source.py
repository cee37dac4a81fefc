"""What the hub needs from the database, behind a small interface.

:class:`HubSource` is the hub's only view of persistence; :class:`StoreSource` implements
it with the ``store`` package. Every read is scoped to the socket's user: another user's
job looks exactly like a missing one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from server.authenticator import Authenticator
from server.hub.protocol import Topic
from server.serialize import event_for, job_json
from server.token_cache import TokenCache
from store.engine import Sessions, read_session
from store.errors import NotFound
from store.job_listing import list_jobs
from store.job_queries import events_since, get_job
from store.reader import Reader
from store.users import live_token_hashes


@dataclasses.dataclass(frozen=True)
class Principal:
    """The authenticated user behind a socket."""

    user_id: str
    is_admin: bool = False
    token_sha256: str = ""
    """The hash of the token the socket authenticated with, to check it again later."""

    def may_read(self, owner_id: str) -> bool:
        """Whether a job owned by ``owner_id`` is visible to this user."""
        return self.is_admin or owner_id == self.user_id


class HubSource(Protocol):
    """Database reads of the hub."""

    async def authenticate(self, token: str) -> Principal | None:
        """The user owning a live ``token``, or ``None``."""

    async def live_tokens(self, token_hashes: Collection[str]) -> set[str]:
        """Those of ``token_hashes`` whose tokens are still live (not revoked, not expired)."""

    async def jobs(self, principal: Principal, topic: Topic, limit: int) -> list[dict[str, Any]]:
        """The current rows (JSON, as the REST API shows them) of a topic's readable jobs, newest first."""

    async def events_after(self, principal: Principal, job_id: str, seq: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` persisted events of a readable job with ``seq`` above ``seq``, in order,
        each as it was published; empty for a job the principal may not read."""


def owner_of_row(row: Mapping[str, Any]) -> str:
    """The owning user of a job row as :meth:`HubSource.jobs` returns it."""
    return str(row["user_id"])


class StoreSource:
    """:class:`HubSource` on the ``store`` package: rows via ``server.serialize.job_json``.

    Args:
        sessions: The application's session factory.
        authenticator: Resolves tokens (the process's, shared with the REST API); by
            default one without a cache that records no use.
    """

    def __init__(
        self, sessions: Sessions, authenticator: Authenticator | None = None
    ) -> None:
        self._sessions = sessions
        self._auth = authenticator or Authenticator(sessions, TokenCache(0))

    async def authenticate(self, token: str) -> Principal | None:
        identity = await self._auth.authenticate(token)  # never a write transaction
        return None if identity is None else Principal(identity.user_id, identity.is_admin, identity.token_sha256)

    async def live_tokens(self, token_hashes: Collection[str]) -> set[str]:
        async with read_session(self._sessions) as session:
            return await live_token_hashes(session, token_hashes)

    async def jobs(self, principal: Principal, topic: Topic, limit: int) -> list[dict[str, Any]]:
        reader = _reader(principal)
        async with read_session(self._sessions) as session:
            if topic.kind == "job_id":
                try:
                    job = await get_job(session, topic.value, reader=reader)
                    return [job_json(job, is_admin=principal.is_admin)]
                except NotFound:
                    return []
            if topic.kind == "pipeline_id":
                page = await list_jobs(session, reader=reader, pipeline_id=topic.value, limit=limit)
            else:
                page = await list_jobs(session, reader=reader, user_id=principal.user_id, limit=limit)
            return [job_json(job, is_admin=principal.is_admin) for job in page.items]

    async def events_after(self, principal: Principal, job_id: str, seq: int, limit: int) -> list[dict[str, Any]]:
        async with read_session(self._sessions) as session:
            try:
                events = await events_since(session, job_id, seq, reader=_reader(principal), limit=limit)
            except NotFound:
                return []
        return [event_for(event, is_admin=principal.is_admin) for event in events]


def _reader(principal: Principal) -> Reader:
    return Reader(user_id=principal.user_id, is_admin=principal.is_admin)
