"""The websocket protocol: parsing and validating client frames, building server frames.

Client → server (JSON text frames; every frame may carry a ``ref`` that is echoed back)::

    {"op": "auth", "token": "..."}                      # only when no token came with the handshake
    {"op": "subscribe", "topics": [{"job_id": "..."} | {"pipeline_id": "..."} | {"user": "me"}],
     "since": {"<job_id>": <last_seq>, ...}}            # since is optional
    {"op": "unsubscribe", "topics": [...]}
    {"op": "ping"}

Server → client: ``welcome`` (after auth), ``snapshot`` (after each subscribe), the job
events as published (``job.status``, ``job.version``, ``job.warning``, ``job.progress``),
``unsubscribed``, ``pong`` and ``error`` (``{"type": "error", "code", "field", "message"}``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from server.hub.errors import ProtocolError

TopicKind = Literal["job_id", "pipeline_id", "user"]
TOPIC_KINDS: tuple[TopicKind, ...] = ("job_id", "pipeline_id", "user")
MAX_ID_LENGTH = 200
MAX_SEQ = 2**31 - 1
Ref = str | int | None
_TOPIC_SHAPE = 'a topic is an object with one key: {"job_id": ...}, {"pipeline_id": ...} or {"user": "me"}'


@dataclasses.dataclass(frozen=True)
class Topic:
    """What a socket listens to: one job, one pipeline, or every job of its own user."""

    kind: TopicKind
    value: str

    def to_json(self) -> dict[str, str]:
        """The topic as the client wrote it."""
        return {self.kind: self.value}


ME = Topic("user", "me")


@dataclasses.dataclass(frozen=True)
class Auth:
    token: str
    ref: Ref = None


@dataclasses.dataclass(frozen=True)
class Subscribe:
    topics: tuple[Topic, ...]
    since: Mapping[str, int]
    ref: Ref = None


@dataclasses.dataclass(frozen=True)
class Unsubscribe:
    topics: tuple[Topic, ...]
    ref: Ref = None


@dataclasses.dataclass(frozen=True)
class Ping:
    ref: Ref = None


Frame = Auth | Subscribe | Unsubscribe | Ping

_FIELDS: dict[str, frozenset[str]] = {
    "auth": frozenset({"op", "ref", "token"}),
    "subscribe": frozenset({"op", "ref", "topics", "since"}),
    "unsubscribe": frozenset({"op", "ref", "topics"}),
    "ping": frozenset({"op", "ref"}),
}


def parse_frame(text: str, *, max_topics: int = 100) -> Frame:
    """Parse one client text frame.

    Raises:
        ProtocolError: the frame is not a JSON object, names an unknown ``op`` or field, or a
            value has the wrong shape; the error names the field.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "frame", "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "frame", "the frame must be a JSON object")
    op = data.get("op")
    if not isinstance(op, str) or op not in _FIELDS:
        raise ProtocolError("unknown_op", "op", f"op must be one of {', '.join(sorted(_FIELDS))}")
    unknown = sorted(set(data) - _FIELDS[op])
    if unknown:
        raise ProtocolError("unknown_field", unknown[0], f"{op} frames do not take {unknown[0]!r}")
    ref = _ref(data.get("ref"))
    if op == "ping":
        return Ping(ref)
    if op == "auth":
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("bad_field", "token", "token must be a non-empty string")
        return Auth(token, ref)
    topics = _topics(data.get("topics"), max_topics)
    if op == "unsubscribe":
        return Unsubscribe(topics, ref)
    return Subscribe(topics, _since(data.get("since", {})), ref)


def frame_ref(text: str) -> Ref:
    """The ``ref`` of a frame that failed to parse, when one can still be read, for the error reply."""
    try:
        data = json.loads(text)
        return _ref(data.get("ref")) if isinstance(data, dict) else None
    except (ValueError, RecursionError, ProtocolError):
        return None


def _ref(value: Any) -> Ref:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH:
        return value
    raise ProtocolError("bad_field", "ref", f"ref must be a string of at most {MAX_ID_LENGTH} characters or an integer")


def _topics(value: Any, max_topics: int) -> tuple[Topic, ...]:
    if not isinstance(value, list) or not value:
        raise ProtocolError("bad_field", "topics", "topics must be a non-empty list")
    if len(value) > max_topics:
        raise ProtocolError("too_many_topics", "topics", f"at most {max_topics} topics per frame")
    topics: list[Topic] = []
    for index, item in enumerate(value):
        field = f"topics.{index}"
        if not isinstance(item, dict) or len(item) != 1:
            raise ProtocolError("bad_topic", field, _TOPIC_SHAPE)
        ((kind, raw),) = item.items()
        if kind not in TOPIC_KINDS:
            raise ProtocolError("bad_topic", f"{field}.{kind}", "topic keys are job_id, pipeline_id or user")
        if kind == "user":
            if raw != "me":
                raise ProtocolError("bad_topic", f"{field}.user", 'the only user topic is {"user": "me"}')
        elif not isinstance(raw, str) or not raw or len(raw) > MAX_ID_LENGTH:
            message = f"{kind} must be a string of 1-{MAX_ID_LENGTH} characters"
            raise ProtocolError("bad_topic", f"{field}.{kind}", message)
        elif _has_control_characters(raw):
            raise ProtocolError("bad_topic", f"{field}.{kind}", f"{kind} must not contain control characters")
        topic = Topic(kind, raw)
        if topic not in topics:
            topics.append(topic)
    return tuple(topics)


def _has_control_characters(text: str) -> bool:
    # Ids never hold them, and PostgreSQL refuses NUL in text: refused here, not in a query.
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _since(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ProtocolError("bad_field", "since", "since must be an object mapping job ids to sequence numbers")
    since: dict[str, int] = {}
    for job_id, seq in value.items():
        if not job_id or len(job_id) > MAX_ID_LENGTH:
            raise ProtocolError("bad_field", "since", f"job ids in since must have 1-{MAX_ID_LENGTH} characters")
        if _has_control_characters(job_id):
            raise ProtocolError("bad_field", "since", "job ids in since must not contain control characters")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
            raise ProtocolError("bad_field", f"since.{job_id}", "a sequence number must be an integer of 0 or more")
        since[job_id] = seq
    return since


def _with_ref(frame: dict[str, Any], ref: Ref) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame


def welcome_frame(user_id: str, is_admin: bool, heartbeat_s: float) -> dict[str, Any]:
    """Sent once the socket is authenticated."""
    return {"type": "welcome", "user_id": user_id, "is_admin": is_admin, "heartbeat_s": heartbeat_s}


def snapshot_frame(
    topics: Sequence[Topic], jobs: Sequence[Mapping[str, Any]], missing: Sequence[str], ref: Ref = None
) -> dict[str, Any]:
    """The current rows of the subscribed topics; ``missing`` lists job ids the client may not read."""
    return _with_ref(
        {"type": "snapshot", "topics": [t.to_json() for t in topics], "jobs": list(jobs), "missing": list(missing)},
        ref,
    )


def unsubscribed_frame(topics: Sequence[Topic], ref: Ref = None) -> dict[str, Any]:
    return _with_ref({"type": "unsubscribed", "topics": [t.to_json() for t in topics]}, ref)


def pong_frame(ref: Ref = None) -> dict[str, Any]:
    return _with_ref({"type": "pong"}, ref)


def error_frame(code: str, field: str, message: str, ref: Ref = None) -> dict[str, Any]:
    """An error reply; the socket stays open."""
    return _with_ref({"type": "error", "code": code, "field": field, "message": message}, ref)
