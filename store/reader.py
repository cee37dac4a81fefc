"""Who is reading: every store read is scoped by a :class:`Reader`."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import ColumnElement, true


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
