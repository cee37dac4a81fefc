"""``GET /ml-workflow/ws``: authenticate the socket, read its frames, run its sender.

Authentication, in order of precedence: an ``Authorization: Bearer <token>`` header, a
``token`` query parameter (browsers cannot set headers on websockets), or, failing both,
a first frame ``{"op": "auth", "token": ...}`` within ``auth_timeout_s``. A socket that is
not authenticated is closed with 4401 and a reason. Invalid frames get an ``error`` frame
naming the field; binary frames close with 1003, frames over ``max_frame_bytes`` with
1009, and a socket that keeps sending invalid frames with 4400.

A token sent with the handshake is resolved before the upgrade, so that a user already
holding ``max_sockets_per_user`` sockets is answered ``429`` (JSON error, ``Retry-After``)
and a database that cannot answer in time ``503`` — never a 500. With an ``auth`` frame the
same cases close the socket with 4429 and 1013. Frames are sent uncompressed: an event's
bytes are written as published, the same bytes to every socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSMsgType, web

from server.errors import ApiError, TooManyRequests, to_api_error
from server.hub.client import HubClient
from server.hub.errors import AuthError, ProtocolError
from server.hub.policy import CloseCode, HubConfig
from server.hub.protocol import Auth, Ping, Subscribe, error_frame, frame_ref, parse_frame, welcome_frame
from server.hub.service import Hub
from server.hub.source import Principal

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 512
MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes
AUTH_RETRY_DELAY_S = 0.25


def token_of(request: web.Request) -> str | None:
    """The token sent with the handshake (header first, then the query), if any."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or None


async def close_socket(ws: web.WebSocketResponse, code: int, reason: str, grace_s: float) -> None:
    """Close ``ws`` without waiting on a peer that does not read for longer than ``grace_s``."""
    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
        async with asyncio.timeout(grace_s):
            await ws.close(code=code, message=reason.encode()[:MAX_REASON_BYTES], drain=False)


async def _resolve(hub: Hub, token: str) -> Principal:
    """The principal of ``token``; one retry when the database is momentarily unavailable.

    Raises:
        AuthError: the token is not valid.
        server.errors.ServiceUnavailable: the database did not answer twice in a row.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthError("unauthorized: the token is not valid")
    for attempt in (1, 2):
        try:
            principal = await hub.source.authenticate(token)
            break
        except Exception as exc:
            error = to_api_error(exc)
            if error.status != 503:
                raise
            if attempt == 2:
                raise error from exc
            log.warning("websocket authentication: %s; retrying", exc)
            await asyncio.sleep(AUTH_RETRY_DELAY_S)
    if principal is None:
        raise AuthError("unauthorized: the token is unknown or revoked, or has expired")
    return principal


async def _authenticate(hub: Hub, request: web.Request, ws: web.WebSocketResponse) -> Principal:
    token = token_of(request)
    if token is None:
        try:
            async with asyncio.timeout(hub.config.auth_timeout_s):
                msg = await ws.receive()
        except TimeoutError:
            raise AuthError("unauthorized: no token (send an auth frame first)") from None
        if msg.type is not WSMsgType.TEXT:
            raise AuthError("unauthorized: the first frame must be {op: auth, token}")
        try:
            frame = parse_frame(msg.data)
        except ProtocolError as exc:
            raise AuthError(f"unauthorized: {exc}") from None
        if not isinstance(frame, Auth):
            raise AuthError("unauthorized: the first frame must be {op: auth, token}")
        token = frame.token
    return await _resolve(hub, token)


def _too_many(hub: Hub) -> str:
    return f"too many open websockets: at most {hub.config.max_sockets_per_user} per user (hub.max_sockets_per_user)"


async def serve_socket(hub: Hub, request: web.Request) -> web.WebSocketResponse:
    """Run one websocket from handshake to close.

    Raises:
        TooManyRequests: the handshake's token belongs to a user at ``max_sockets_per_user``.
        ServiceUnavailable: the database could not resolve the handshake's token.
    """
    config = hub.config
    ws = web.WebSocketResponse(heartbeat=config.heartbeat_s, max_msg_size=config.max_frame_bytes, compress=False)
    early: Principal | AuthError | None = None
    token = token_of(request)
    if token is not None and hub.accepting:
        try:
            early = await _resolve(hub, token)
        except AuthError as exc:
            early = exc  # answered after the upgrade with 4401, like every other auth failure
        if isinstance(early, Principal) and not hub.admit(early):
            raise TooManyRequests(_too_many(hub), code="too_many_sockets",
                                  details={"max_sockets_per_user": config.max_sockets_per_user})
    admitted = early if isinstance(early, Principal) else None
    try:
        await ws.prepare(request)
        if not hub.accepting:
            await close_socket(ws, CloseCode.GOING_AWAY, "server shutting down", config.send_timeout_s)
            return ws
        if isinstance(early, AuthError):
            await close_socket(ws, CloseCode.UNAUTHORIZED, str(early), config.send_timeout_s)
            return ws
        if admitted is None:
            try:
                principal = await _authenticate(hub, request, ws)
            except AuthError as exc:
                await close_socket(ws, CloseCode.UNAUTHORIZED, str(exc), config.send_timeout_s)
                return ws
            except ApiError as exc:  # the database could not answer: try again later
                await close_socket(ws, CloseCode.TRY_AGAIN_LATER, exc.message, config.send_timeout_s)
                return ws
            if not hub.admit(principal):
                await close_socket(ws, CloseCode.TOO_MANY_SOCKETS, _too_many(hub), config.send_timeout_s)
                return ws
            admitted = principal
        await _serve(hub, ws, admitted)
        return ws
    finally:
        if admitted is not None:
            hub.release(admitted)


async def _serve(hub: Hub, ws: web.WebSocketResponse, principal: Principal) -> None:
    config = hub.config
    sender: asyncio.Task[None] | None = None

    def close(code: int, reason: str) -> None:
        if sender is not None and sender is not asyncio.current_task():
            sender.cancel()  # it may be stuck writing to a peer that stopped reading
        hub.spawn(close_socket(ws, code, reason, config.send_timeout_s), name="hub-close")

    async def send(data: bytes) -> None:
        await ws.send_frame(data, WSMsgType.TEXT)

    client = HubClient(principal, hub.source, config, send, close)
    client.reply(welcome_frame(principal.user_id, principal.is_admin, config.heartbeat_s))
    sender = asyncio.create_task(_send_loop(client), name="hub-sender")
    hub.register(client)
    try:
        await _read_loop(client, ws, config)
    finally:
        hub.unregister(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


async def _send_loop(client: HubClient) -> None:
    try:
        await client.run()
    except ConnectionError:
        pass  # the peer went away; the read loop ends on its own
    except Exception:
        log.exception("websocket sender of user %s failed", client.principal.user_id)
        client.close(CloseCode.INTERNAL_ERROR, "internal error; reconnect with since")


async def _read_loop(client: HubClient, ws: web.WebSocketResponse, config: HubConfig) -> None:
    max_topics, max_errors = config.max_topics, config.max_errors
    errors = 0
    async for msg in ws:
        if msg.type is WSMsgType.BINARY:
            client.close(CloseCode.UNSUPPORTED_DATA, "binary frames are not supported; send JSON text")
            return
        if msg.type is not WSMsgType.TEXT:
            return  # an ERROR (e.g. a frame over max_msg_size): aiohttp has already closed with its code
        try:
            frame = parse_frame(msg.data, max_topics=max_topics)
            if isinstance(frame, Auth):
                # Counted like any invalid frame, so an auth flood ends with 4400 instead of echoing forever.
                raise ProtocolError("already_authenticated", "op", "this socket is already authenticated")
        except ProtocolError as exc:
            errors += 1
            if errors > max_errors:
                await client.flush(config.send_timeout_s)
                client.close(CloseCode.TOO_MANY_ERRORS, f"too many invalid frames; last: {exc.field}: {exc.message}")
                return
            client.reply(error_frame(exc.code, exc.field, exc.message, frame_ref(msg.data)))
            continue
        if isinstance(frame, Ping):
            client.pong(frame.ref)
        elif isinstance(frame, Subscribe):
            client.subscribe(frame)
        else:
            client.unsubscribe(frame)
