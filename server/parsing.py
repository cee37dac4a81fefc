"""Reading request bodies and query strings into the pydantic request schemas."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar

import pydantic
from aiohttp import web

from server.errors import BadRequest, PayloadTooLarge, validation_error
from server.keys import SETTINGS

M = TypeVar("M", bound=pydantic.BaseModel)


async def read_json(request: web.Request, model: type[M]) -> M:
    """Validate the JSON body against ``model``.

    Raises:
        PayloadTooLarge: the body exceeds ``server.max_body_mb``.
        BadRequest: the body is missing or not JSON.
        UnprocessableEntity: the JSON does not match the schema (unknown fields included).
    """
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            "the request body is too large",
            details={"field": "body", "limit_mb": request.app[SETTINGS].server.max_body_mb},
        ) from exc
    if not raw.strip():
        raise BadRequest("the request body must be a JSON document", details={"field": "body"})
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise BadRequest("the request body is not valid JSON", details={"field": "body"}) from None
        raise validation_error(exc, location="body") from None


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
