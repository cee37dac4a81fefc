"""The shim's exception tree, mirroring Dramatiq's names and bases.

``DramatiqError`` is the root of every error the shim raises on purpose. Two families sit
outside it because Dramatiq places them there and user code catches them by those bases:
``MiddlewareError`` (an ``Exception``) and ``Interrupt`` (a ``BaseException`` so that actor
code's ``except Exception`` does not swallow a time limit, a shutdown or an abort).
"""

from __future__ import annotations

from typing import Any


class DramatiqError(Exception):
    """Raised as the base of every shim error (Dramatiq's root exception)."""

    def __init__(self, message: Any) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message) or repr(self.message)


class DecodeError(DramatiqError):
    """Raised when a message fails to decode."""

    def __init__(self, message: Any, data: Any, error: BaseException) -> None:
        super().__init__(message)
        self.data = data
        self.error = error


class BrokerError(DramatiqError):
    """Raised as the base of broker-related errors."""


class ActorNotFound(BrokerError):
    """Raised when a message is sent to an actor that hasn't been declared."""


class QueueNotFound(BrokerError):
    """Raised when a message is sent to a queue that hasn't been declared."""


class QueueJoinTimeout(DramatiqError):
    """Raised when joining a queue times out."""


class BrokerConnectionError(BrokerError):
    """Raised as the base of broker connection errors."""


class ConnectionFailed(BrokerConnectionError):
    """Raised when a broker connection could not be opened."""


class ConnectionClosed(BrokerConnectionError):
    """Raised when a broker connection is suddenly closed."""


class RateLimitExceeded(DramatiqError):
    """Raised when a rate limit has been exceeded."""


class Retry(DramatiqError):
    """Raised by actors that want to be retried, optionally after ``delay`` milliseconds.

    The Retries middleware treats it like any other failure, except that it is not logged
    as an error and its ``delay`` replaces the computed backoff.
    """

    def __init__(self, message: str = "", delay: int | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class ResultError(DramatiqError):
    """Raised as the base of result errors."""


class ResultTimeout(ResultError):
    """Raised when waiting for a result times out."""


class ResultMissing(ResultError):
    """Raised when a result can't be found."""


class ResultFailure(ResultError):
    """Raised when getting the result of an actor that failed."""

    def __init__(self, message: str = "", orig_exc_type: str = "", orig_exc_msg: str = "") -> None:
        super().__init__(message)
        self.orig_exc_type = orig_exc_type
        self.orig_exc_msg = orig_exc_msg


class MiddlewareError(Exception):
    """Raised by middleware to stop a hook chain (Dramatiq keeps it outside DramatiqError)."""


class SkipMessage(MiddlewareError):
    """Raised by ``before_process_message`` hooks to skip the current message."""


class Interrupt(BaseException):
    """Raised asynchronously in a worker thread to interrupt the actor it runs."""


class TimeLimitExceeded(Interrupt):
    """Raised in a worker thread when its actor exceeds its time limit."""


class Shutdown(Interrupt):
    """Raised in a worker thread when its worker is shutting down (``notify_shutdown``)."""


class Abort(Interrupt):
    """Raised in a worker thread when its message was aborted and the abort timeout passed."""
