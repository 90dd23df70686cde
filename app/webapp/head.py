"""HEAD answered like GET: same status and headers, no body.

FastAPI's routes (``@router.get``) accept GET only, so ``HEAD /`` would answer 405,
while uptime monitors and link checkers send HEAD. :class:`HeadAsGetMiddleware` passes
every HEAD request to the application as a GET and drops the body of the answer. The
headers are left as the GET produced them, ``Content-Length`` included (RFC 9110,
section 9.3.2). A path without a GET route still answers 405 (or 404), as a GET would.

The server must still see HEAD: Uvicorn reads the method from its own scope to decide
not to send a body and not to add ``Transfer-Encoding: chunked``. So the application
gets a copy of the scope and the server's is left as it was. Inside the application,
``request.method`` is ``"GET"``; middleware added after this one (outside it, like
the metrics) sees ``"HEAD"``.

A route that would do work only for the body (start an event stream, say) can ask
:func:`is_head` and skip it: the application's scope carries :data:`HEAD_SCOPE_KEY`.
"""

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EMPTY_BODY: Message = {"type": "http.response.body", "body": b"", "more_body": False}
# Set to True in the scope the application gets for a HEAD request.
HEAD_SCOPE_KEY = "webapp.head"


def is_head(connection: HTTPConnection) -> bool:
    """Whether the client sent HEAD, although the application sees a GET."""
    return connection.scope.get(HEAD_SCOPE_KEY) is True


class HeadAsGetMiddleware:
    """Pure ASGI middleware serving HEAD requests as GET without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                # Only the last chunk goes out, emptied: the response still ends.
                if not message.get("more_body", False):
                    await send(EMPTY_BODY)
            elif kind == "http.response.pathsend":
                # A file the server would send itself (ASGI extension): send nothing.
                await send(EMPTY_BODY)
            else:
                await send(message)

        await self.app({**scope, "method": "GET", HEAD_SCOPE_KEY: True}, receive, send_without_body)
