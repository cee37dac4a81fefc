"""Errors raised by the store. The server translates them to HTTP at its edge."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises."""


class ConfigError(StoreError):
    """Raised when the configuration has an unknown key or a bad value; names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class IllegalTransition(StoreError):
    """Raised when a job status change is not allowed by the state machine."""
