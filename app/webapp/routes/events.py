"""GET /api/events: a short stream of server-sent events (``text/event-stream``).

Each event is one ``data:`` line of JSON and a blank line::

    data: {"n": 1, "release": "<id>", "t": 1767225600.123}

``n`` counts from 1 to ``count``, ``t`` is the server's Unix time when the event was
made. The first event goes out at once, the next ones every ``interval`` seconds, then
the response ends.

The response is a plain StreamingResponse, not FastAPI's EventSourceResponse, which
adds ``X-Accel-Buffering: no``: the proxy in front must pass the stream on unbuffered
by its own configuration, and the kit's tests check that it does.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from webapp.dependencies import SettingsDep
from webapp.head import is_head

router = APIRouter(prefix="/api/events", tags=["events"])

# A stream lasts less than Gunicorn's graceful timeout (30 s by default): a worker
# stopping for a deploy lets it end instead of cutting it off.
MAX_STREAM_SECONDS = 25.0


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse of ``text/event-stream``, also so for the OpenAPI schema."""

    media_type = "text/event-stream"


def format_event(data: dict[str, object]) -> str:
    """One event whose data is ``data`` as JSON (one line: JSON escapes newlines)."""
    return f"data: {json.dumps(data)}\n\n"


async def numbered_events(release: str, count: int, interval: float) -> AsyncIterator[str]:
    """``count`` events, the first at once and then one every ``interval`` seconds.

    The times are kept on a fixed schedule from the start, so they do not drift.
    """
    start = time.monotonic()
    for n in range(1, count + 1):
        delay = start + (n - 1) * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        yield format_event({"n": n, "release": release, "t": round(time.time(), 3)})


@router.get(
    "",
    response_class=EventStreamResponse,
    responses={200: {"description": "The events, as they are made."}},
)
async def stream_events(
    request: Request,
    settings: SettingsDep,
    count: Annotated[int, Query(ge=1, le=100, description="How many events.")] = 5,
    interval: Annotated[
        float, Query(ge=0.05, le=5, description="Seconds between two events.")
    ] = 0.5,
) -> EventStreamResponse:
    """Send ``count`` events ``interval`` seconds apart, then end the response."""
    if (count - 1) * interval > MAX_STREAM_SECONDS:
        raise HTTPException(
            status_code=422,
            detail=f"count and interval make a stream longer than {MAX_STREAM_SECONDS:g} s",
        )
    # A HEAD gets the same status and headers but no events: no need to wait for them.
    total = 0 if is_head(request) else count
    return EventStreamResponse(
        numbered_events(settings.release, total, interval),
        headers={"Cache-Control": "no-cache"},
    )
