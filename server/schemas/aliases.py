"""Schemas of named model aliases: listing, set/move, removal and history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, field_validator

from server.schemas.common import RequestModel, ResponseModel
from server.schemas.versions import VersionOut
from store.alias_names import ALIAS_PATTERN, MAX_VERSION, VersionRef, parse_version_ref
from store.errors import InvalidInput

AliasAction = Literal["set", "move", "remove"]


class AliasOut(ResponseModel):
    """Where an alias of a node points."""

    alias: str
    version: int
    implicit: bool = Field(
        description="True for `active` before any promotion: the node's first live version, no alias row written."
    )
    updated_at: dt.datetime | None
    updated_by: str | None


class AliasesOut(ResponseModel):
    pipeline_id: str
    node_id: str
    items: list[AliasOut] = Field(description="Every alias of the node, by name; `active` is always listed once set.")


class AliasDetailOut(AliasOut):
    """One alias with the version it points at."""

    pipeline_id: str
    node_id: str
    target: VersionOut


_VERSION_REF_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
        {"type": "string", "minLength": 1, "maxLength": 64, "pattern": ALIAS_PATTERN},
    ],
    "description": "The version to point at: its number, or another alias's name to point where that one does.",
}


class SetAliasIn(RequestModel):
    version: Annotated[VersionRef, WithJsonSchema(_VERSION_REF_SCHEMA)]

    @field_validator("version", mode="plain")
    @classmethod
    def _reference(cls, value: object) -> VersionRef:
        # One rule for every place that takes a version (store.alias_names); a union of
        # constrained types would name the failing branch (``version.constrained-int``).
        try:
            return parse_version_ref(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


class AliasChangeOut(ResponseModel):
    """One change of an alias: set (from nothing), moved, or removed (to nothing)."""

    id: int = Field(description="The history row's id; newer changes have larger ids.")
    alias: str
    action: AliasAction
    from_version: int | None
    to_version: int | None
    changed_at: dt.datetime
    changed_by: str | None


class AliasWriteOut(AliasChangeOut):
    pipeline_id: str
    node_id: str
    changed: bool = Field(description="False when the alias already pointed there: nothing was written.")


class AliasHistoryQuery(RequestModel):
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(
        default=None, min_length=1, max_length=20, description="`next_cursor` of the previous page."
    )


class AliasHistoryOut(ResponseModel):
    """One page of an alias's changes, newest first; pass `next_cursor` as `cursor` for older ones."""

    pipeline_id: str
    node_id: str
    alias: str
    items: list[AliasChangeOut]
    next_cursor: str | None
