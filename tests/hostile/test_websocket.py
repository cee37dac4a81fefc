"""Malformed websocket traffic the hub tests do not cover: frames before authentication,
invalid UTF-8, huge and binary frames on an unauthenticated socket, auth-frame floods, and
topics carrying SQL metacharacters, path traversal or NUL characters.

Each ends in an ``error`` frame naming the field or a close code (4401 with a reason; 1009
and 1007 are sent by aiohttp's frame reader itself, before the hub sees the frame); none
authenticates anyone, reveals another user's job or leaves a row behind.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.hub import CloseCode, RedisState
from store.settings import Settings
from tests.hostile.conftest import AliceObjects
from tests.hostile.footprint import footprint
from tests.server.conftest import ClientFactory, People
from tests.server.hub_helpers import Socket, connect, hub_app, hub_of

HUB = "/ml-workflow/ws"
INVALID_TEXT = 1007


@pytest.fixture
async def hub_client(
    settings: Settings, people: People, aiohttp_client: ClientFactory, alices: AliceObjects
) -> TestClient[Any, Any]:
    client = await aiohttp_client(hub_app(settings))
    await hub_of(client).fanout.wait_for(RedisState.UP)
    return client


async def _closed_by_server(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return ws.close_code, str(msg.extra or "")
            assert msg.type is not aiohttp.WSMsgType.TEXT or "welcome" not in msg.data, msg.data


@pytest.mark.parametrize(
    ("first", "code", "reason"),
    [
        ("binary", CloseCode.UNAUTHORIZED, "first frame must be"),
        ("huge", CloseCode.MESSAGE_TOO_BIG, ""),
        ("invalid utf-8", INVALID_TEXT, ""),
        ("not json", CloseCode.UNAUTHORIZED, "frame"),
        ("subscribe", CloseCode.UNAUTHORIZED, "first frame must be"),
        ("auth with a token of 100 kB", CloseCode.UNAUTHORIZED, ""),
    ],
)
async def test_a_socket_whose_first_frame_is_not_a_valid_auth_frame_is_closed_without_authenticating(
    hub_client: TestClient[Any, Any], settings: Settings, first: str, code: int, reason: str
) -> None:
    before = await footprint(settings)
    ws = await hub_client.ws_connect(HUB)
    if first == "binary":
        await ws.send_bytes(b"\x00\xff" * 100)
    elif first == "huge":
        await ws.send_str('{"op": "auth", "token": "' + "x" * 200_000 + '"}')
    elif first == "invalid utf-8":
        await ws.send_frame(b'{"op": "auth", "token": "\xff\xfe\xc3\x28"}', aiohttp.WSMsgType.TEXT)
    elif first == "not json":
        await ws.send_str("{op: auth")
    elif first == "subscribe":
        await ws.send_str(json.dumps({"op": "subscribe", "topics": [{"user": "me"}]}))
    else:
        await ws.send_str(json.dumps({"op": "auth", "token": "t" * 60_000}))

    got, why = await _closed_by_server(ws)

    assert got == code, (got, why)
    if code == CloseCode.UNAUTHORIZED:
        assert why.startswith("unauthorized") and reason in why, why
    assert (await footprint(settings)).added_since(before) == {}


async def test_invalid_utf8_in_a_text_frame_of_an_authenticated_socket_closes_it_with_1007(
    hub_client: TestClient[Any, Any], people: People
) -> None:
    sock = await connect(hub_client, people.alice)

    await sock.ws.send_frame(b'{"op": "ping", "ref": "\xc3\x28"}', aiohttp.WSMsgType.TEXT)

    assert await sock.closed() == INVALID_TEXT


async def test_an_auth_frame_flood_on_an_authenticated_socket_is_closed_with_4400(
    hub_client: TestClient[Any, Any], people: People
) -> None:
    sock = await connect(hub_client, people.alice)

    for _ in range(200):
        await sock.send({"op": "auth", "token": people.bob.token})
    code = await sock.closed()

    assert code == CloseCode.TOO_MANY_ERRORS
    assert "already authenticated" in sock.close_reason or "op" in sock.close_reason
    errors = [f for f in sock.frames if f["type"] == "error"]
    assert errors and all(f["code"] == "already_authenticated" and f["field"] == "op" for f in errors)
    welcomes = [f["user_id"] for f in sock.frames if f["type"] == "welcome"]
    assert welcomes == [people.alice.id]  # bob's token never switched the socket


async def test_many_sockets_guessing_tokens_are_each_closed_with_4401_and_authenticate_no_one(
    hub_client: TestClient[Any, Any], settings: Settings
) -> None:
    before = await footprint(settings)

    async def guess(n: int) -> tuple[int | None, str]:
        ws = await hub_client.ws_connect(HUB)
        await ws.send_str(json.dumps({"op": "auth", "token": f"guess-{n}-' OR 1=1 --"}))
        return await _closed_by_server(ws)

    results = await asyncio.gather(*(guess(n) for n in range(50)))

    assert {code for code, _ in results} == {CloseCode.UNAUTHORIZED}
    assert (await footprint(settings)).added_since(before) == {}


HOSTILE_TOPICS = [
    {"job_id": "' OR 1=1 --"},
    {"job_id": "../../etc/passwd"},
    {"pipeline_id": "x' UNION SELECT token_sha256 FROM api_tokens --"},
    {"pipeline_id": "%"},
    {"job_id": "*"},
]


async def test_topics_with_sql_metacharacters_or_traversal_match_nothing_of_anyone(
    hub_client: TestClient[Any, Any], people: People, alices: AliceObjects
) -> None:
    bob = await connect(hub_client, people.bob)

    snapshot = await bob.subscribe(HOSTILE_TOPICS, since={"' OR 1=1 --": 0})

    assert snapshot["jobs"] == []
    assert snapshot["missing"] == [t["job_id"] for t in HOSTILE_TOPICS if "job_id" in t]
    assert await bob.sync() == []


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"op": "subscribe", "topics": [{"job_id": "a\u0000b"}]}, "topics.0.job_id"),
        ({"op": "subscribe", "topics": [{"pipeline_id": "\u0000"}]}, "topics.0.pipeline_id"),
        ({"op": "subscribe", "topics": [{"user": "me"}], "since": {"j\u0000b": 1}}, "since"),
        ({"op": "unsubscribe", "topics": [{"job_id": "x\u001b[2J"}]}, "topics.0.job_id"),
    ],
)
async def test_a_topic_with_control_characters_gets_an_error_naming_it_and_the_socket_stays_usable(
    hub_client: TestClient[Any, Any], people: People, alices: AliceObjects, frame: dict[str, Any], field: str
) -> None:
    sock: Socket = await connect(hub_client, people.alice)

    await sock.send(frame)
    error = await sock.next()

    code = "bad_topic" if field.startswith("topics") else "bad_field"
    assert (error["type"], error["code"], error["field"]) == ("error", code, field)
    snapshot = await sock.subscribe([{"job_id": alices.job_id}])
    assert [row["id"] for row in snapshot["jobs"]] == [alices.job_id]
