"""The server's one translation table: every error class to its status, code and body."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

import actors.errors
import store.errors
from actors.errors import ActiveJobConflict, BrokerUnavailable, IdempotencyKeyReused, InvalidNodeConfig
from server.errors import NotFoundError, to_api_error
from store.db_errors import as_store_error
from store.errors import (
    ConfigError,
    DuplicateName,
    IllegalTransition,
    InUse,
    InvalidInput,
    NotFound,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    VersionDeleted,
)

CASES: list[tuple[BaseException, int, dict[str, Any]]] = [
    (NotFound("job", "j1"), 404, {"code": "not_found", "message": "job 'j1' not found", "details": {"kind": "job"}}),
    (
        InvalidInput("cursor", "not a cursor"),
        422,
        {"code": "invalid_input", "message": "not a cursor", "details": {"field": "cursor"}},
    ),
    (DuplicateName("user", "ann"), 409, {"code": "conflict", "message": "a user named 'ann' already exists"}),
    (
        InUse("still used", code="dataset_in_use", details={"pipelines": 2}),
        409,
        {"code": "dataset_in_use", "message": "still used", "details": {"pipelines": 2}},
    ),
    (VersionDeleted(3), 409, {"code": "version_deleted", "details": {"field": "version", "version": 3}}),
    (StoreBusy("locked"), 503, {"code": "database_busy", "message": "the database is busy; retry shortly"}),
    (IllegalTransition("no"), 500, {"code": "internal_error", "message": "the database could not serve the request"}),
    (
        InvalidNodeConfig("must be positive", field="config.max_depth"),
        422,
        {"code": "invalid_config", "message": "config.max_depth: must be positive"},
    ),
    (
        IdempotencyKeyReused("reused", details={"job_id": "j"}),
        422,
        {"code": "idempotency_key_reused", "details": {"field": "idempotency_key", "job_id": "j"}},
    ),
    (ActiveJobConflict("busy", details={"active_job_id": "j"}), 409, {"code": "active_job_exists"}),
    (BrokerUnavailable("down", details={"job_id": "j"}), 503, {"code": "broker_unavailable", "message": "down"}),
    (sa_exc.TimeoutError("pool"), 503, {"code": "database_busy"}),
    (ConnectionRefusedError("no"), 503, {"code": "database_unavailable"}),
    (ConfigError("redis.url", "is empty"), 500, {"code": "internal_error", "message": "an unexpected error occurred"}),
    (RuntimeError("secret path /etc"), 500, {"code": "internal_error", "message": "an unexpected error occurred"}),
]


@pytest.mark.parametrize(("exc", "status", "expected"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_each_error_class_gets_its_status_code_and_body(
    exc: BaseException, status: int, expected: dict[str, Any]
) -> None:
    error = to_api_error(exc)
    body = error.body()["error"]
    assert error.status == status
    assert {k: body[k] for k in expected} == expected


def test_an_api_error_passes_through_unchanged() -> None:
    error = NotFoundError("gone", code="no_artifact")
    assert to_api_error(error) is error


def test_every_error_class_of_store_and_actors_names_its_code_in_the_same_attribute() -> None:
    classes = [
        obj
        for module in (store.errors, actors.errors)
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == module.__name__
    ]
    assert len(classes) > 15
    for cls in classes:
        assert isinstance(getattr(cls, "code", None), str), cls
        assert not hasattr(cls, "default_code"), cls


def test_a_configuration_error_is_not_a_store_error() -> None:
    assert not issubclass(ConfigError, StoreError)


def test_driver_failures_are_named_as_store_errors_and_others_are_left_alone() -> None:
    assert isinstance(as_store_error(sa_exc.TimeoutError("pool")), StoreBusy)
    dead = sa_exc.OperationalError("SELECT 1", {}, OSError("connection refused"))
    assert isinstance(as_store_error(dead), StoreUnavailable)
    assert as_store_error(ValueError("x")) is None
    busy = StoreBusy("locked")
    assert as_store_error(busy) is busy
