"""Results: store actor results (and failures, once retries are exhausted)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import ActorNotFound
from ..middleware.middleware import Middleware

if TYPE_CHECKING:
    from ..broker import Broker, MessageProxy
    from .backend import ResultBackend

DEFAULT_RESULT_TTL = 600_000


class Results(Middleware):
    """Store actor results in a backend.

    Args:
        backend: The result backend.
        store_results: The default for actors that do not set ``store_results``.
        result_ttl: How long (ms) results are kept; 10 minutes by default.
    """

    def __init__(self, *, backend: ResultBackend, store_results: bool = False, result_ttl: int | None = None) -> None:
        self.logger = logging.getLogger(__name__)
        self.backend = backend
        self.store_results = store_results
        self.result_ttl = result_ttl or DEFAULT_RESULT_TTL

    @property
    def actor_options(self) -> set[str]:
        return {"store_results", "result_ttl"}

    def _lookup_options(self, broker: Broker, message: MessageProxy) -> tuple[bool, int]:
        try:
            actor = broker.get_actor(message.actor_name)
        except ActorNotFound:
            return False, 0
        store = message.options.get("store_results", actor.options.get("store_results", self.store_results))
        ttl = message.options.get("result_ttl", actor.options.get("result_ttl", self.result_ttl))
        return bool(store), int(ttl)

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        store, ttl = self._lookup_options(broker, message)
        if store and exception is None:
            self.backend.store_result(message.message, result, ttl)
        if not store and result is not None and message.options.get("pipe_target") is None:
            self.logger.warning(
                "Actor '%s' returned a value that is not None, but you haven't set its `store_results' option "
                "to `True' so the value has been discarded.",
                message.actor_name,
            )

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        store, ttl = self._lookup_options(broker, message)
        if store and not message.failed:
            self.backend.store_result(message.message, None, ttl)

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        store, ttl = self._lookup_options(broker, message)
        if store and message.failed:
            exception = message._exception or Exception("unknown")
            self.backend.store_exception(message.message, exception, ttl)
