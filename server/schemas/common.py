"""Schemas shared by every resource: errors, health, form-driving metadata."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RequestModel(BaseModel):
    """Base of request schemas: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NoFieldsIn(RequestModel):
    """An optional body without fields (``{}`` or nothing); any field in it is refused."""


class ResponseModel(BaseModel):
    """Base of response schemas."""

    model_config = ConfigDict(extra="forbid")


class ErrorInfo(ResponseModel):
    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="Human-readable explanation.")
    details: dict[str, Any] = Field(description="Extra information, e.g. the offending `field`.")


class ErrorDocument(ResponseModel):
    """The body of every error response."""

    error: ErrorInfo


class HealthOut(ResponseModel):
    status: Literal["ok"]


class ReadyCheck(ResponseModel):
    ok: bool
    detail: str


class ReadyOut(ResponseModel):
    """Readiness: the database and Redis answer, and a worker was seen recently."""

    ready: bool
    checks: dict[str, ReadyCheck]


class NodeTypesOut(ResponseModel):
    """The node types of the canvas and the schemas of their configs."""

    node_types: list[dict[str, Any]]


class ModelFamiliesOut(ResponseModel):
    """The model families and their hyperparameters (drives the training form)."""

    model_families: list[dict[str, Any]]
