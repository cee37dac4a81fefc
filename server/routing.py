"""The operation table: one entry per endpoint, used to route, authenticate and document.

Each view module lists its :class:`Operation` s; :func:`add_operations` registers them on
the router and :mod:`server.openapi` documents the very same entries, with the pydantic
models the handlers validate with.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from server.errors import UnprocessableEntity
from server.parsing import read_optional_json
from server.schemas.common import NoFieldsIn

API_PREFIX = "/ml-workflow/api"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Body = type[BaseModel] | Mapping[str, Any]
"""A pydantic model (JSON), or a raw OpenAPI ``content`` mapping (multipart, binary)."""


@dataclass(frozen=True)
class Operation:
    """One endpoint.

    Attributes:
        method: The HTTP method.
        path: The path below :data:`API_PREFIX`, with ``{name}`` parameters.
        handler: The aiohttp handler.
        operation_id: A unique name (also the aiohttp route name).
        summary: One line for the OpenAPI document.
        tag: The resource group.
        responses: Status -> the response body: a model, a raw ``content`` mapping, or None.
        body: The request body, when the operation takes one.
        body_required: False when the body may be left out (an action without parameters).
        query: The query-string model, when the operation takes one.
        path_params: Name -> JSON schema of each path parameter.
        public: True when no bearer token is needed.
        errors: The error statuses the operation may answer (besides those implied).
    """

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    responses: Mapping[int, Body | None]
    body: Body | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    path_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    public: bool = False
    errors: tuple[int, ...] = ()

    @property
    def full_path(self) -> str:
        """The path including :data:`API_PREFIX`."""
        return API_PREFIX + self.path

    def error_statuses(self) -> list[int]:
        """Every error status this operation documents."""
        statuses = set(self.errors)
        if not self.public:
            statuses.add(401)
        if self.path_params:
            statuses.add(404)
        if self.query is not None or self.path_params:
            statuses.update({400, 422})
        if self.body is not None:
            statuses.update({400, 413, 415, 422})
        return sorted(statuses)


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def path_param_problem(value: str, schema: Mapping[str, Any]) -> str | None:
    """Why a path parameter cannot name anything under its schema, or ``None`` when it may."""
    if _CONTROL.search(value) is not None:
        return "must not contain control characters"
    if schema.get("type") == "string":
        low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 10**9))
        if not low <= len(value) <= high:
            return f"must have {low} to {high} characters"
    if schema.get("type") == "integer":
        return integer_problem(value, int(schema.get("minimum", 0)), int(schema.get("maximum", 2**31 - 1)))
    return None


def integer_problem(value: str, low: int, high: int) -> str | None:
    """Why ``value`` is not an integer in ``[low, high]`` written in ASCII digits, or ``None``.

    ``str.isdigit`` and ``int`` accept other scripts' digits (``"\\u0661"`` is 1, ``"\\u00b2"`` a digit
    ``int`` refuses); a number in a path is ASCII digits only, at most 18 of them.
    """
    if not value or len(value) > 18 or not all("0" <= ch <= "9" for ch in value):
        return f"must be an integer from {low} to {high} written in ASCII digits"
    if not low <= int(value) <= high:
        return f"must be an integer from {low} to {high}"
    return None


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _checked(op: Operation) -> Handler:
    """The handler behind a check of the path parameters against their documented schemas.

    A NUL character would reach PostgreSQL (which refuses it in text) and an overlong id
    a query; both are answered here with a 422 naming the parameter. An operation that
    documents no body refuses one with fields (nothing a client sends is silently ignored);
    an empty body or ``{}`` is accepted.
    """
    refuse_body = op.body is None and op.method in _BODY_METHODS

    async def handler(request: web.Request) -> web.StreamResponse:
        for name, schema in op.path_params.items():
            problem = path_param_problem(request.match_info.get(name, ""), schema)
            if problem is not None:
                details = {"location": "path", "field": name}
                raise UnprocessableEntity(f"path: {name}: {problem}", details=details)
        if refuse_body and request.body_exists:
            await read_optional_json(request, NoFieldsIn)
        return await op.handler(request)

    return handler if op.path_params or refuse_body else op.handler


def add_operations(app: web.Application, operations: Iterable[Operation]) -> None:
    """Register ``operations`` on the application's router."""
    for op in operations:
        app.router.add_route(op.method, op.full_path, _checked(op), name=op.operation_id)


def public_route_names(operations: Iterable[Operation]) -> frozenset[str]:
    """The route names that need no bearer token."""
    return frozenset(op.operation_id for op in operations if op.public)
