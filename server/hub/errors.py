"""Errors of the websocket hub."""

from __future__ import annotations


class HubError(Exception):
    """Base class of every error the websocket hub raises."""


class ProtocolError(HubError):
    """Raised when a client frame is not valid; names the offending field.

    Attributes:
        code: A stable, machine-readable error code (``bad_json``, ``unknown_op``, ...).
        field: The dotted path of the offending field (``topics.0.job_id``), or ``frame``.
        message: A human-readable explanation.
    """

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        self.field = field
        self.message = message


class AuthError(HubError):
    """Raised when a websocket carries no token, an unknown one, or a revoked one."""
