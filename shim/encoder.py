"""Message encoders: JSON (the default and the only one the Celery transport carries)."""

from __future__ import annotations

import abc
import json
import pickle
from typing import Any

from .errors import DecodeError

MessageData = dict[str, Any]


class Encoder(abc.ABC):
    """Base class for message encoders."""

    @abc.abstractmethod
    def encode(self, data: MessageData) -> bytes:
        """Convert message metadata into a bytestring."""

    @abc.abstractmethod
    def decode(self, data: bytes) -> MessageData:
        """Convert a bytestring into message metadata."""


class JSONEncoder(Encoder):
    """Encodes messages as compact UTF-8 JSON. This is the default encoder."""

    def encode(self, data: MessageData) -> bytes:
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    def decode(self, data: bytes) -> MessageData:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"failed to decode data {data!r}", data, exc) from None
        try:
            decoded: MessageData = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DecodeError(f"failed to decode message {text!r}", text, exc) from None
        return decoded


class PickleEncoder(Encoder):
    """Pickles messages; for the in-memory broker only (never for untrusted data)."""

    def encode(self, data: MessageData) -> bytes:
        return pickle.dumps(data)

    def decode(self, data: bytes) -> MessageData:
        decoded: MessageData = pickle.loads(data)
        return decoded
