"""WebSocket /ws/notes in process: hello, echo, closes, shutdown with 1012, metrics.

The app is driven directly over ASGI in the test's event loop, as a server would: the
lifespan runs in the same loop, so the tests control exactly when shutdown happens.
Under a real server (Gunicorn with Uvicorn workers, stopped with SIGTERM) see
tests/test_server.py.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Message

import webapp.main
from tests.conftest import RELEASE, serve
from tests.test_metrics import sample
from webapp.metrics import MetricsMiddleware
from webapp.sockets import SERVICE_RESTART, UNSUPPORTED_DATA

pytestmark = pytest.mark.anyio

PATH = "/ws/notes"


class Connection:
    """One WebSocket connection to ``app``, its server side played by two queues.

    ``send_blocks`` makes the server never finish sending a close frame, like one whose
    client stopped reading.
    """

    def __init__(self, app: FastAPI, path: str, send_blocks: bool = False) -> None:
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.send_blocks = send_blocks
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "subprotocols": [],
        }
        self.to_app.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(app(scope, self.to_app.get, self.send))

    async def send(self, message: Message) -> None:
        if self.send_blocks and message["type"] == "websocket.close":
            await asyncio.Event().wait()
        await self.from_app.put(message)

    async def receive(self) -> Message:
        """The next message the app sent, within 5 s."""
        return await asyncio.wait_for(self.from_app.get(), 5)

    async def receive_json(self) -> object:
        message = await self.receive()
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    def send_text(self, text: str) -> None:
        self.to_app.put_nowait({"type": "websocket.receive", "text": text})

    async def open(self) -> object:
        """Wait for the app to accept; return its hello."""
        assert (await self.receive())["type"] == "websocket.accept"
        return await self.receive_json()

    async def disconnect(self, code: int) -> None:
        """The client closes (or the connection drops); the handler must then end."""
        self.to_app.put_nowait({"type": "websocket.disconnect", "code": code})
        await asyncio.wait_for(self.task, 5)


async def shutdown_time(app: FastAPI, inside: Callable[[], Awaitable[None]]) -> float:
    """Run ``inside`` with the app's lifespan started; return how long the shutdown took."""
    async with app.router.lifespan_context(app):
        await inside()
        started = time.monotonic()
    return time.monotonic() - started


async def test_hello_then_echo(app: FastAPI) -> None:
    async with serve(app):
        connection = Connection(app, PATH)
        assert await connection.open() == {"type": "hello", "release": RELEASE}
        for text in ("first", "", '{"not": "parsed"}', "ünïcode ✓", "x" * 100_000):
            connection.send_text(text)
            assert await connection.receive_json() == {"type": "echo", "text": text}
        await connection.disconnect(1000)


async def test_client_close_ends_the_handler(app: FastAPI) -> None:
    async with serve(app):
        connection = Connection(app, PATH)
        await connection.open()
        assert len(app.state.sockets) == 1
        await connection.disconnect(1000)  # the handler returned, without an error
        assert len(app.state.sockets) == 0
        assert connection.from_app.empty()  # and sent nothing after the client left


async def test_binary_message_closes_with_unsupported_data(app: FastAPI) -> None:
    async with serve(app):
        connection = Connection(app, PATH)
        await connection.open()
        connection.to_app.put_nowait({"type": "websocket.receive", "bytes": b"\x00\x01"})
        close = await connection.receive()
        assert (close["type"], close["code"]) == ("websocket.close", UNSUPPORTED_DATA)
        await asyncio.wait_for(connection.task, 5)  # the handler ended by itself
        assert len(app.state.sockets) == 0


async def test_shutdown_closes_open_sockets_with_service_restart(app: FastAPI) -> None:
    connections: list[Connection] = []

    async def inside() -> None:
        connections.extend([Connection(app, PATH), Connection(app, PATH)])
        for connection in connections:
            await connection.open()
        assert len(app.state.sockets) == 2

    assert await shutdown_time(app, inside) < 1

    for connection in connections:
        close = await connection.receive()
        assert (close["type"], close["code"]) == ("websocket.close", SERVICE_RESTART)
        await connection.disconnect(SERVICE_RESTART)
    assert len(app.state.sockets) == 0


async def test_a_message_racing_the_shutdown_close_gets_no_answer(app: FastAPI) -> None:
    """Text that arrives after shutdown sent its close frame is not echoed: a send
    after a close would fail."""
    connection = Connection(app, PATH)

    async def inside() -> None:
        await connection.open()

    await shutdown_time(app, inside)
    connection.send_text("too late")
    close = await connection.receive()
    assert (close["type"], close["code"]) == ("websocket.close", SERVICE_RESTART)
    await asyncio.wait_for(connection.task, 5)  # ended on the text, without an error
    assert connection.from_app.empty()


async def test_shutdown_does_not_wait_long_for_a_stuck_close(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webapp.main, "SOCKET_CLOSE_SECONDS", 0.3)
    connection = Connection(app, PATH, send_blocks=True)

    async def inside() -> None:
        await connection.open()

    assert 0.3 <= await shutdown_time(app, inside) < 2

    await connection.disconnect(1006)  # the server drops the connection: the handler ends
    assert len(app.state.sockets) == 0


async def test_metrics_leave_websockets_alone(app: FastAPI) -> None:
    """The metrics middleware passes WebSocket scopes through and counts none of them."""
    async with serve(app) as client:
        before = (await client.get("/metrics")).text
        connection = Connection(app, PATH)
        await connection.open()
        connection.send_text("counted?")
        await connection.receive_json()
        await connection.disconnect(1000)
        # A WebSocket to a path no route serves is refused, and not counted either.
        refused = Connection(app, "/ws/nowhere")
        assert (await refused.receive())["type"] == "websocket.close"
        await asyncio.wait_for(refused.task, 5)
        after = (await client.get("/metrics")).text
    assert "/ws/" not in after
    for route in ("/ws/notes", "<unmatched>"):
        for status in ("101", "200", "403", "404", "500"):
            labels = {"method": "GET", "route": route, "status": status}
            assert sample(after, "http_requests_total", **labels) == sample(
                before, "http_requests_total", **labels
            )


async def test_metrics_middleware_needs_no_method_on_websocket_scopes() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing to send")

    # A WebSocket scope has no "method": the middleware must not look for one.
    await MetricsMiddleware(app)({"type": "websocket", "path": PATH}, receive, send)
    assert seen == ["websocket"]
