"""HEAD wherever GET works: same status and headers, no body, not in the OpenAPI schema."""

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from tests.conftest import BOTH_BACKENDS
from tests.test_metrics import sample, scrape
from webapp.head import HEAD_SCOPE_KEY, HeadAsGetMiddleware

pytestmark = pytest.mark.anyio

# One path of each kind: API routes (HTML, JSON, text), FastAPI's own schema route,
# the docs pages, and both static file mounts.
GET_PATHS = [
    "/",
    "/health",
    "/api/notes",
    "/api/notes?limit=1",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/static/style.css",
    "/docs-assets/swagger-ui.css",
    "/docs-assets/swagger-ui-start.js",
]


@pytest.mark.parametrize("path", GET_PATHS)
async def test_head_answers_like_get(client: httpx.AsyncClient, path: str) -> None:
    get = await client.get(path)
    head = await client.head(path)
    assert get.status_code == 200
    assert head.status_code == get.status_code
    assert head.headers == get.headers
    assert int(head.headers["content-length"]) == len(get.content) > 0
    assert head.content == b""


@BOTH_BACKENDS
async def test_head_of_a_note(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await client.post("/api/notes", json={"title": "Head"}, headers=auth)
    path = created.headers["location"]
    get = await client.get(path)
    head = await client.head(path)
    assert (head.status_code, head.headers, head.content) == (200, get.headers, b"")


async def test_head_of_metrics(client: httpx.AsyncClient) -> None:
    # The body changes with every request counted, so only the headers' names compare.
    get = await client.get("/metrics")
    head = await client.head("/metrics")
    assert head.status_code == 200
    assert head.headers.keys() == get.headers.keys()
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) > 0
    assert head.content == b""


@pytest.mark.parametrize(("path", "status"), [("/api/notes/999", 404), ("/no/such/page", 404)])
async def test_head_errors_like_get(client: httpx.AsyncClient, path: str, status: int) -> None:
    get = await client.get(path)
    head = await client.head(path)
    assert get.status_code == head.status_code == status
    assert head.headers == get.headers
    assert head.content == b""


async def test_head_without_a_get_route_is_refused(app: FastAPI) -> None:
    """A path with POST, PATCH or DELETE only answers 405 to HEAD; no handler runs."""
    calls: list[str] = []

    @app.post("/only-post")
    def only_post() -> None:
        calls.append("post")

    @app.delete("/only-delete/{item}")
    def only_delete(item: int) -> None:
        calls.append("delete")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path, allowed in (("/only-post", "POST"), ("/only-delete/1", "DELETE")):
            head = await client.head(path)
            assert head.status_code == 405
            assert head.headers["allow"] == allowed
            assert head.content == b""
    assert calls == []


async def test_head_is_not_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    methods = {method for operations in schema["paths"].values() for method in operations}
    assert methods == {"get", "post", "patch", "delete"}


async def test_metrics_count_head_as_head(client: httpx.AsyncClient) -> None:
    head_labels = {"method": "HEAD", "route": "/health", "status": "200"}
    get_labels = head_labels | {"method": "GET"}
    before = await scrape(client)
    await client.head("/health")
    await client.head("/health")
    after = await scrape(client)
    assert sample(after, "http_requests_total", **head_labels) - sample(
        before, "http_requests_total", **head_labels
    ) == pytest.approx(2)
    assert sample(after, "http_requests_total", **get_labels) == sample(
        before, "http_requests_total", **get_labels
    )


async def run_middleware(method: str, messages: list[Message]) -> tuple[list[Message], Scope]:
    """Call the middleware around an app that sends ``messages``; return what the server
    got, and the scope the app saw."""
    seen: dict[str, Scope] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen["scope"] = scope
        for message in messages:
            await send(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    server_scope: Scope = {"type": "http", "method": method, "path": "/"}
    await HeadAsGetMiddleware(app)(server_scope, receive, send)
    assert server_scope["method"] == method  # the server's own scope is left as it was
    return sent, seen["scope"]


START: Message = {"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]}
EMPTY_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


async def test_middleware_drops_every_chunk_of_a_streamed_body() -> None:
    chunks: list[Message] = [
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body", "body": b"b", "more_body": True},
        {"type": "http.response.body", "body": b"c"},
    ]
    sent, scope = await run_middleware("HEAD", [START, *chunks])
    assert scope["method"] == "GET"
    assert scope[HEAD_SCOPE_KEY] is True  # for is_head()
    assert sent == [START, EMPTY_END]


async def test_middleware_replaces_a_path_send_with_an_empty_body() -> None:
    pathsend: Message = {"type": "http.response.pathsend", "path": "/etc/hostname"}
    sent, _ = await run_middleware("HEAD", [START, pathsend])
    assert sent == [START, EMPTY_END]


async def test_middleware_leaves_other_methods_alone() -> None:
    body: Message = {"type": "http.response.body", "body": b"abc"}
    sent, scope = await run_middleware("GET", [START, body])
    assert scope["method"] == "GET"
    assert HEAD_SCOPE_KEY not in scope
    assert sent == [START, body]
