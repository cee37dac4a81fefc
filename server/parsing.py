"""Reading request bodies and query strings into the pydantic request schemas."""

from __future__ import annotations

import math
import types
import typing
from typing import Any, TypeVar

import pydantic
from aiohttp import web

from server.errors import BadRequest, PayloadTooLarge, UnprocessableEntity, validation_error
from server.keys import OFFLOAD, READER, SETTINGS
from server.large_body import has_graph, validate_graph_body

M = TypeVar("M", bound=pydantic.BaseModel)

OFFLOAD_BODY_BYTES = 32 * 1024
"""JSON bodies larger than this are decoded on the bounded executor (``server.offload``)."""

MAX_JSON_INT = 2**63 - 1
"""Larger integers are refused: neither the databases' JSON nor JavaScript clients keep them exactly."""


def _number_problem(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value!r} (NaN and Infinity are not JSON)"
    if isinstance(value, int) and abs(value) > MAX_JSON_INT:
        return f"must be an integer of at most {MAX_JSON_INT} in magnitude, got one of {len(str(abs(value)))} digits"
    return None


def _plainly_fine(value: Any) -> bool:
    """Whether every value is surely fine, decided without naming any path (the common case).

    Every request body is walked; building the dotted path of each value cost more than the
    checks. Anything not plainly fine (or of a type not expected here) is left to the full walk.
    """
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str or "\x00" in key:
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is str:
            if "\x00" in item:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is int:
            if abs(item) > MAX_JSON_INT:
                return False
        elif kind is not bool and item is not None:
            return False
    return True


def json_value_problem(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first value of a decoded JSON document the service cannot store faithfully.

    Pydantic accepts ``NaN``, ``Infinity``, numbers beyond float range (which become
    infinite) and integers of any size inside free-form objects (hyperparameters, node
    configs); PostgreSQL refuses NUL characters in text and non-finite numbers in JSON.

    Returns:
        ``(field, problem)`` naming the dotted path, or ``None`` when every value is fine.
    """
    if _plainly_fine(value):
        return None
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and "\x00" in key:
                    return name.replace("\x00", "\\u0000"), "keys must not contain NUL characters"
                stack.append((name, child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), child) for i, child in enumerate(item))
        elif isinstance(item, str):
            if "\x00" in item:
                return where, "must not contain NUL characters (\\u0000)"
        elif (problem := _number_problem(item)) is not None:
            return where, problem
    return None


def _check_values(model: pydantic.BaseModel, location: str) -> None:
    found = json_value_problem(model.model_dump(mode="python", exclude_unset=True))
    if found is not None:
        field, problem = found
        raise UnprocessableEntity(f"{location}: {field}: {problem}", details={"location": location, "field": field})


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            "the request body is too large",
            details={"field": "body", "limit_mb": request.app[SETTINGS].server.max_body_mb},
        ) from exc


async def read_json(request: web.Request, model: type[M]) -> M:
    """Validate the JSON body against ``model``.

    Raises:
        PayloadTooLarge: the body exceeds ``server.max_body_mb``.
        BadRequest: the body is missing or not JSON.
        UnprocessableEntity: the JSON does not match the schema (unknown fields included).
    """
    raw = await _read_body(request)
    if not raw.strip():
        raise BadRequest("the request body must be a JSON document", details={"field": "body"})
    reader = request.get(READER)
    if len(raw) > OFFLOAD_BODY_BYTES and reader is not None and reader.user_id is not None:
        # Decoding and checking a large graph takes tens of milliseconds of CPU per 100 KB:
        # on the bounded executor, under the user's share, not on the event loop.
        return await request.app[OFFLOAD].run(reader.user_id, _validate_large, raw, model)
    return _validate(raw, model)


async def read_optional_json(request: web.Request, model: type[M]) -> M:
    """Like :func:`read_json`, but an empty body stands for ``{}``.

    For actions (cancel, promote) whose body is optional: a body that is sent is still
    validated, so an unknown field is refused with a 422 naming it, never ignored.
    """
    raw = await _read_body(request)
    return _validate(raw if raw.strip() else b"{}", model)


def _validate(raw: bytes, model: type[M]) -> M:
    try:
        parsed = model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise BadRequest("the request body is not valid JSON", details={"field": "body"}) from None
        raise validation_error(exc, location="body") from None
    _check_values(parsed, "body")
    return parsed


def _validate_large(raw: bytes, model: type[M]) -> M:
    """:func:`_validate` for a large body: a graph body in small steps (see :mod:`server.large_body`)."""
    parsed = validate_graph_body(raw, model) if has_graph(model) else None
    if parsed is None:
        return _validate(raw, model)
    _check_values(parsed, "body")
    return parsed


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a C0 control character or DEL (never part of an id, a filter or a name)."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


def parse_query(request: web.Request, model: type[M]) -> M:
    """Validate the query string against ``model``; list fields take repeated keys.

    Raises:
        UnprocessableEntity: a parameter is unknown, repeated where one is allowed, or invalid.
    """
    data: dict[str, Any] = {}
    fields = model.model_fields
    for key in request.query:
        if key in data:
            continue
        values = request.query.getall(key)
        if any(has_control_characters(v) for v in values) or has_control_characters(key):
            raise UnprocessableEntity(
                f"query: {key}: must not contain control characters", details={"location": "query", "field": key}
            )
        field = fields.get(key)
        if field is not None and _is_list(field.annotation):
            data[key] = values
        elif len(values) > 1:
            raise BadRequest(f"query parameter {key!r} may appear only once", details={"field": key})
        else:
            data[key] = values[0]
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise validation_error(exc, location="query") from None
