"""GET /api/events in process: format, headers, timing, limits, HEAD, OpenAPI.

Arrival times through a real server are checked in tests/test_server.py.
"""

import json
import time

import httpx
import pytest

from tests.conftest import RELEASE

pytestmark = pytest.mark.anyio


def parse_events(body: str) -> list[dict]:
    """The data of each event; every event must be one ``data:`` line and a blank line."""
    assert body.endswith("\n\n"), body
    events = []
    for block in body.removesuffix("\n\n").split("\n\n"):
        assert block.startswith("data: "), block
        assert "\n" not in block, block
        events.append(json.loads(block.removeprefix("data: ")))
    return events


async def test_events_and_headers(client: httpx.AsyncClient) -> None:
    before = time.time()
    response = await client.get("/api/events", params={"count": 3, "interval": 0.05})
    after = time.time()

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    # The proxy must stream it by its own configuration, not because the app asks.
    assert "x-accel-buffering" not in response.headers
    assert "content-length" not in response.headers
    events = parse_events(response.text)
    assert [(event["n"], event["release"]) for event in events] == [(n, RELEASE) for n in (1, 2, 3)]
    assert all(before - 0.01 <= event["t"] <= after + 0.01 for event in events)
    assert events[0].keys() == {"n", "release", "t"}


async def test_events_are_paced_by_the_interval(client: httpx.AsyncClient) -> None:
    # httpx runs the app to the end before it answers: arrival times are checked with a
    # real server in tests/test_server.py.
    started = time.monotonic()
    response = await client.get("/api/events", params={"count": 4, "interval": 0.2})
    elapsed = time.monotonic() - started
    times = [event["t"] for event in parse_events(response.text)]
    # The first at once, then one every interval: none early (a late one, on a busy
    # machine, makes the next one come sooner, back on schedule).
    assert all(t - times[0] >= n * 0.2 - 0.01 for n, t in enumerate(times)), times
    assert times[-1] - times[0] < 1.5, times
    assert 0.59 <= elapsed < 2


@pytest.mark.parametrize(
    "params",
    [
        {"count": 0},
        {"count": 101},
        {"count": "many"},
        {"interval": 0.01},
        {"interval": 5.5},
        {"interval": "soon"},
        # Longer than a worker's graceful stop: 99 intervals of 5 s.
        {"count": 100, "interval": 5},
        {"count": 7, "interval": 5},
    ],
)
async def test_limits(client: httpx.AsyncClient, params: dict[str, object]) -> None:
    response = await client.get("/api/events", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"


async def test_limits_themselves_are_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/events", params={"count": 1, "interval": 0.05})
    assert len(parse_events(response.text)) == 1
    # The longest stream allowed: 25 s. HEAD is validated like GET, without waiting for the events.
    head = await client.head("/api/events", params={"count": 6, "interval": 5})
    assert head.status_code == 200


async def test_head_answers_at_once_with_the_headers(client: httpx.AsyncClient) -> None:
    """HEAD makes no events: it does not wait for a stream whose body it would drop."""
    started = time.monotonic()
    head = await client.head("/api/events", params={"count": 6, "interval": 5})
    assert time.monotonic() - started < 1
    get = await client.get("/api/events", params={"count": 1})
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers == get.headers


async def test_head_is_validated_like_get(client: httpx.AsyncClient) -> None:
    head = await client.head("/api/events", params={"count": 1000})
    assert (head.status_code, head.content) == (422, b"")


async def test_openapi_describes_the_stream(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/api/events"]["get"]
    assert operation["tags"] == ["events"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in operation["parameters"]}
    assert parameters["count"] == {
        "type": "integer",
        "maximum": 100,
        "minimum": 1,
        "default": 5,
        "description": "How many events.",
        "title": "Count",
    }
    interval = parameters["interval"]
    assert (interval["default"], interval["minimum"], interval["maximum"]) == (0.5, 0.05, 5)
