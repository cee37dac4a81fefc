"""Parsing client frames and building server frames, without a socket."""

from __future__ import annotations

import json

import pytest

from server.hub.errors import ProtocolError
from server.hub.protocol import (
    ME,
    Auth,
    Ping,
    Subscribe,
    Topic,
    Unsubscribe,
    error_frame,
    frame_ref,
    parse_frame,
    snapshot_frame,
)


def test_a_subscribe_frame_yields_its_topics_in_order_without_duplicates_and_its_since() -> None:
    frame = parse_frame(
        json.dumps(
            {
                "op": "subscribe",
                "ref": "r1",
                "topics": [{"job_id": "j1"}, {"pipeline_id": "p1"}, {"user": "me"}, {"job_id": "j1"}],
                "since": {"j1": 3},
            }
        )
    )

    assert frame == Subscribe((Topic("job_id", "j1"), Topic("pipeline_id", "p1"), ME), {"j1": 3}, "r1")


def test_since_is_optional_and_ping_unsubscribe_and_auth_parse() -> None:
    assert parse_frame('{"op": "subscribe", "topics": [{"user": "me"}]}') == Subscribe((ME,), {})
    assert parse_frame('{"op": "ping", "ref": 5}') == Ping(5)
    assert parse_frame('{"op": "unsubscribe", "topics": [{"job_id": "j"}]}') == Unsubscribe((Topic("job_id", "j"),))
    assert parse_frame('{"op": "auth", "token": "t"}') == Auth("t")


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ("{", "bad_json", "frame"),
        ('"ping"', "bad_frame", "frame"),
        ("{}", "unknown_op", "op"),
        ('{"op": 3}', "unknown_op", "op"),
        ('{"op": "ping", "topics": []}', "unknown_field", "topics"),
        ('{"op": "ping", "ref": true}', "bad_field", "ref"),
        ('{"op": "auth", "token": ""}', "bad_field", "token"),
        ('{"op": "subscribe"}', "bad_field", "topics"),
        ('{"op": "subscribe", "topics": []}', "bad_field", "topics"),
        ('{"op": "subscribe", "topics": ["j1"]}', "bad_topic", "topics.0"),
        ('{"op": "subscribe", "topics": [{"job_id": "a", "user": "me"}]}', "bad_topic", "topics.0"),
        ('{"op": "subscribe", "topics": [{"user": "me"}, {"node_id": "n"}]}', "bad_topic", "topics.1.node_id"),
        ('{"op": "subscribe", "topics": [{"job_id": 7}]}', "bad_topic", "topics.0.job_id"),
        ('{"op": "subscribe", "topics": [{"job_id": ""}]}', "bad_topic", "topics.0.job_id"),
        ('{"op": "subscribe", "topics": [{"user": "someone"}]}', "bad_topic", "topics.0.user"),
        ('{"op": "subscribe", "topics": [{"user": "me"}], "since": []}', "bad_field", "since"),
        ('{"op": "subscribe", "topics": [{"user": "me"}], "since": {"j": "3"}}', "bad_field", "since.j"),
        ('{"op": "subscribe", "topics": [{"user": "me"}], "since": {"j": true}}', "bad_field", "since.j"),
    ],
)
def test_a_malformed_frame_raises_an_error_naming_the_field(text: str, code: str, field: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_frame(text)

    assert (caught.value.code, caught.value.field) == (code, field)


def test_too_many_topics_in_one_frame_are_refused() -> None:
    topics = [{"job_id": f"j{i}"} for i in range(4)]

    with pytest.raises(ProtocolError) as caught:
        parse_frame(json.dumps({"op": "subscribe", "topics": topics}), max_topics=3)

    assert caught.value.code == "too_many_topics"


def test_a_deeply_nested_frame_is_an_error_not_a_crash() -> None:
    with pytest.raises(ProtocolError):
        parse_frame("[" * 100_000 + "]" * 100_000)


def test_the_ref_of_a_bad_frame_is_echoed_when_it_can_be_read() -> None:
    assert frame_ref('{"op": "dance", "ref": "x"}') == "x"
    assert frame_ref("not json") is None
    assert error_frame("unknown_op", "op", "no", "x") == {
        "type": "error", "code": "unknown_op", "field": "op", "message": "no", "ref": "x"
    }


def test_a_snapshot_frame_lists_topics_jobs_and_missing_job_ids() -> None:
    frame = snapshot_frame([Topic("job_id", "j1"), ME], [{"id": "j2"}], ["j1"])

    assert frame == {
        "type": "snapshot",
        "topics": [{"job_id": "j1"}, {"user": "me"}],
        "jobs": [{"id": "j2"}],
        "missing": ["j1"],
    }
