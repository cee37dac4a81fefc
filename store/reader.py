"""Who is reading: every store read is scoped by a :class:`Reader`."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import NotFound

Row = TypeVar("Row")


@dataclasses.dataclass(frozen=True)
class Reader:
    """The identity a read is made for.

    A non-admin reader sees only rows it owns; another user's row looks exactly like a
    missing one. Admins (and :meth:`system`, for workers) see every row.
    """

    user_id: str | None
    is_admin: bool = False

    def __post_init__(self) -> None:
        if self.user_id is None and not self.is_admin:
            raise ValueError("a non-admin Reader needs a user_id")

    @classmethod
    def system(cls) -> Reader:
        """The reader for internal callers (workers, the reaper): sees everything."""
        return cls(user_id=None, is_admin=True)

    def owns(self, column: Any) -> ColumnElement[bool]:
        """A WHERE clause limiting ``column`` (an owner id column) to this reader's rows."""
        if self.is_admin:
            return true()
        clause: ColumnElement[bool] = column == self.user_id
        return clause

    def may_see(self, owner_id: str | None) -> bool:
        """Whether a row owned by ``owner_id`` (already loaded) is this reader's to see."""
        return self.is_admin or owner_id == self.user_id


async def get_owned(
    session: AsyncSession,
    entity: type[Row],
    key: ColumnElement[bool],
    owner: Any,
    *,
    reader: Reader,
    kind: str,
    ref: object,
) -> Row:
    """The one ``entity`` row matching ``key`` whose ``owner`` column is ``reader``'s (any for an admin).

    Raises:
        NotFound: missing, or owned by someone else (named ``kind`` ``ref``).
    """
    row = (await session.scalars(select(entity).where(key, reader.owns(owner)))).one_or_none()
    if row is None:
        raise NotFound(kind, ref)
    return row
