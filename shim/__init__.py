"""Dramatiq's public API, executing on Celery.

Code written for Dramatiq 2.x runs by changing only its import: ``import shim as dramatiq``.
Importing this package connects to nothing; Celery is imported with ``shim.brokers.redis``.
"""

from __future__ import annotations

from .actor import Actor, actor
from .broker import Broker, Consumer, MessageProxy, get_broker, set_broker
from .composition import group, pipeline
from .encoder import Encoder, JSONEncoder, PickleEncoder
from .errors import (
    ActorNotFound,
    BrokerConnectionError,
    BrokerError,
    ConnectionClosed,
    ConnectionFailed,
    DecodeError,
    DramatiqError,
    QueueJoinTimeout,
    QueueNotFound,
    RateLimitExceeded,
    Retry,
)
from .generic import GenericActor
from .message import Message, get_encoder, set_encoder
from .middleware import Middleware
from .worker import Worker

__all__ = [
    "Actor",
    "ActorNotFound",
    "Broker",
    "BrokerConnectionError",
    "BrokerError",
    "ConnectionClosed",
    "ConnectionFailed",
    "Consumer",
    "DecodeError",
    "DramatiqError",
    "Encoder",
    "GenericActor",
    "JSONEncoder",
    "Message",
    "MessageProxy",
    "Middleware",
    "PickleEncoder",
    "QueueJoinTimeout",
    "QueueNotFound",
    "RateLimitExceeded",
    "Retry",
    "Worker",
    "actor",
    "get_broker",
    "get_encoder",
    "group",
    "pipeline",
    "set_broker",
    "set_encoder",
]

__version__ = "2.2.1"
