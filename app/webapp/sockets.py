"""The WebSocket connections a process has open, so that shutdown can close them.

A WebSocket stays open until one side closes it, so a server that waited for its
sockets to end would never finish draining. Uvicorn (and so Gunicorn's UvicornWorker)
does not wait: when it starts shutting down it sends every open WebSocket a close
frame with code 1012 (service restart) itself, before the application's lifespan ends.
:class:`SocketRegistry` is the application's own guarantee, for servers that leave this
to the application and for in-process runs: the lifespan closes whatever is still open
with the same code, waiting at most a bounded time.
"""

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

# RFC 6455 close codes (IANA "WebSocket Close Code Number Registry").
UNSUPPORTED_DATA = 1003
SERVICE_RESTART = 1012

logger = logging.getLogger("webapp.sockets")


class SocketRegistry:
    """The open WebSocket connections of one process (``app.state.sockets``)."""

    def __init__(self) -> None:
        self._open: set[WebSocket] = set()

    def __len__(self) -> int:
        return len(self._open)

    @contextmanager
    def track(self, websocket: WebSocket) -> Iterator[None]:
        """Keep ``websocket`` in the registry while the block runs."""
        self._open.add(websocket)
        try:
            yield
        finally:
            self._open.discard(websocket)

    async def close_all(self, code: int, reason: str, within: float) -> int:
        """Send a close frame to every socket still open; return how many there were.

        Waits at most ``within`` seconds in all: a close stuck on a client that does not
        read is abandoned (the server drops the connection when it stops). The handlers
        end when the client's disconnect arrives.
        """
        sockets = [s for s in self._open if s.application_state is WebSocketState.CONNECTED]
        if not sockets:
            return 0
        try:
            async with asyncio.timeout(within):
                await asyncio.gather(*(close_quietly(s, code, reason) for s in sockets))
        except TimeoutError:
            logger.warning("Closing %d WebSocket(s) took over %.1f s", len(sockets), within)
        return len(sockets)


async def close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    """Close ``websocket`` unless it is already closed; a connection gone meanwhile is fine."""
    if websocket.application_state is not WebSocketState.CONNECTED:
        return
    # WebSocketDisconnected (a RuntimeError) if the close raced the client's disconnect.
    with suppress(WebSocketDisconnect, RuntimeError, OSError):
        await websocket.close(code, reason)
