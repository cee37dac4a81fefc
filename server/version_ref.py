"""A ``{version}`` path parameter that takes a version reference: a number or an alias name.

For routes where a client names a model to use (batch predictions, ...): ``.../versions/3/...``
and ``.../versions/champion/...`` name the same model while ``champion`` points at 3.
Resolve the parsed reference with :func:`store.version_refs.resolve_version_ref`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.errors import UnprocessableEntity
from store.alias_names import VERSION_REF_PATTERN, VersionRef, parse_version_ref
from store.errors import InvalidInput

VERSION_REF_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": VERSION_REF_PATTERN,
    "description": "A version number, or an alias name (`active`, `champion`, ...) standing for where it points.",
}
"""The OpenAPI schema of such a path parameter (put it in the operation's ``path_params``)."""


def version_ref_param(request: web.Request, name: str = "version") -> VersionRef:
    """The path parameter ``name`` as a version number or an alias name, or a 422 naming it."""
    try:
        return parse_version_ref(request.match_info[name], field=name)
    except InvalidInput as exc:
        raise UnprocessableEntity(
            f"path: {name}: {exc.message}", details={"location": "path", "field": name}
        ) from None
