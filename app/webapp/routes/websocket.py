"""WebSocket /ws/notes: a hello naming the release, then an echo of every text message.

Messages are JSON text frames:

- from the server at once: ``{"type": "hello", "release": "<id>"}``, so a client (or a
  test through the proxy) sees which release answered;
- for each text message: ``{"type": "echo", "text": "<the message>"}``.

A binary message closes the connection with 1003 (unsupported data). When the server
stops (a deploy or restart), the connection is closed with 1012 (service restart):
clients should reconnect. See :mod:`webapp.sockets`.

FastAPI leaves WebSocket routes out of the OpenAPI schema; the README documents this one.
"""

from contextlib import suppress

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from webapp.settings import Settings
from webapp.sockets import UNSUPPORTED_DATA, SocketRegistry

router = APIRouter(tags=["websocket"])


@router.websocket("/ws/notes")
async def notes_socket(websocket: WebSocket) -> None:
    """Hello, then echo each text message until the client or the server closes."""
    # The SettingsDep dependency takes a Request, which a WebSocket route does not have.
    settings: Settings = websocket.app.state.settings
    sockets: SocketRegistry = websocket.app.state.sockets
    await websocket.accept()
    with sockets.track(websocket), suppress(WebSocketDisconnect):
        # WebSocketDisconnect: the connection dropped while a message was being sent.
        await websocket.send_json({"type": "hello", "release": settings.release})
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return  # the client closed, or the connection is gone
            if websocket.application_state is not WebSocketState.CONNECTED:
                return  # shutdown closed it meanwhile: nothing more may be sent
            text = message.get("text")
            if text is None:
                await websocket.close(UNSUPPORTED_DATA, "text messages only")
                return
            await websocket.send_json({"type": "echo", "text": text})
