"""The message: an immutable record of one call to an actor."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .encoder import Encoder, JSONEncoder
from .errors import DecodeError

if TYPE_CHECKING:
    from .composition import pipeline
    from .results.backend import ResultBackend

R = TypeVar("R", covariant=True)

_global_encoder: Encoder = JSONEncoder()


def get_encoder() -> Encoder:
    """Get the global encoder object."""
    return _global_encoder


def set_encoder(encoder: Encoder) -> None:
    """Set the global encoder used to serialize messages."""
    global _global_encoder
    _global_encoder = encoder


def generate_unique_id() -> str:
    """Generate a globally-unique message id."""
    return str(uuid.uuid4())


def _now_millis() -> int:
    return int(time.time() * 1000)


@dataclasses.dataclass(frozen=True)
class Message(Generic[R]):
    """Metadata about one message sent to an actor.

    Args:
        queue_name: The queue the message belongs to.
        actor_name: The actor that receives the message.
        args: Positional arguments for the actor.
        kwargs: Keyword arguments for the actor.
        options: Options for the broker and middleware.
        message_id: A globally-unique id (the Celery task id on the Redis broker).
        message_timestamp: When the message was first enqueued, in UNIX milliseconds.
    """

    queue_name: str
    actor_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    message_id: str = dataclasses.field(default_factory=generate_unique_id)
    message_timestamp: int = dataclasses.field(default_factory=_now_millis)

    def __post_init__(self) -> None:
        if type(self.args) is not tuple:
            object.__setattr__(self, "args", tuple(self.args))

    def __or__(self, other: Any) -> pipeline:
        from .composition import pipeline

        return pipeline([self, other])

    def asdict(self) -> dict[str, Any]:
        """This message as a dict sharing (not copying) its option values."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def decode(cls, data: bytes) -> Message[Any]:
        """Decode a bytestring made by :meth:`encode`.

        Raises:
            DecodeError: When the data is not a valid message.
        """
        try:
            fields = _global_encoder.decode(data)
            fields["args"] = tuple(fields["args"])
            return cls(**fields)
        except Exception as exc:
            raise DecodeError("Failed to decode message.", data, exc) from exc

    def encode(self) -> bytes:
        """Encode this message with the global encoder."""
        return _global_encoder.encode(self.asdict())

    def copy(self, **attributes: Any) -> Message[R]:
        """A copy of this message with some attributes replaced and options merged."""
        new_options = attributes.pop("options", {})
        return dataclasses.replace(self, **attributes, options={**self.options, **new_options})

    def get_result(self, *, backend: ResultBackend | None = None, block: bool = False, timeout: int | None = None) -> R:
        """Get this message's result from a result backend.

        Args:
            backend: The backend; defaults to the global broker's Results backend.
            block: Wait for the result to be stored.
            timeout: How long to wait, in milliseconds (default 10 s).

        Raises:
            RuntimeError: If there is no result backend on the global broker.
            ResultMissing: When ``block`` is false and no result is stored.
            ResultTimeout: When waiting for the result times out.
            ResultFailure: When the actor failed.
        """
        if backend is None:
            from .broker import get_broker

            backend = get_broker().get_results_backend()
        result: R = backend.get_result(self, block=block, timeout=timeout)
        return result

    def __str__(self) -> str:
        params = ", ".join(repr(arg) for arg in self.args)
        if self.kwargs:
            params += ", " if params else ""
            params += ", ".join(f"{name}={value!r}" for name, value in self.kwargs.items())
        return f"{self.actor_name}({params})"

    def __lt__(self, other: Message[Any]) -> bool:
        return dataclasses.astuple(self) < dataclasses.astuple(other)

    _asdict = asdict

    @property
    def _field_defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(self) if f.default is not dataclasses.MISSING}

    @property
    def _fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))

    def _replace(self, **changes: Any) -> Message[R]:
        return dataclasses.replace(self, **changes)

    @property
    def message_datetime(self) -> datetime:
        """``message_timestamp`` as a UTC-aware datetime."""
        seconds, millis = divmod(self.message_timestamp, 1000)
        return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=millis * 1000)
