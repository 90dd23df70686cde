"""Prometheus metrics: HTTP request instrumentation and the release info gauge.

With ``PROMETHEUS_MULTIPROC_DIR`` set (before this process starts), prometheus_client
keeps the values in files in that directory, so every Gunicorn worker's counts are
summed when any of them serves /metrics. The Gunicorn config must then empty the
directory when the master starts and call ``multiprocess.mark_process_dead(worker.pid)``
in its ``child_exit`` hook.
"""

import os
import time
from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"

LABELS = ("method", "route", "status")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter("http_requests_total", "HTTP requests handled.", LABELS)
REQUEST_DURATION = Histogram(
    "http_request_duration_seconds", "Time spent handling HTTP requests.", LABELS
)
# An Info metric would not work in multiprocess mode; a gauge set to 1 does.
BUILD_INFO = Gauge(
    "app_build_info", "The release this process runs.", ("release",), multiprocess_mode="max"
)


def record_release(release: str) -> None:
    BUILD_INFO.labels(release=release).set(1)


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The path template of the route serving ``scope`` (``/api/notes/{note_id}``).

    Labelling by template rather than raw path keeps the number of series bounded.
    ``iter_route_contexts`` yields routes with the prefixes of included routers applied.
    """
    partial: str | None = None
    for context in iter_route_contexts(routes):
        match, _ = context.matches(scope)
        if match is Match.FULL:
            return context.path_format or UNMATCHED_ROUTE
        if match is Match.PARTIAL and partial is None:
            partial = context.path_format
    return partial or UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware counting and timing every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        status = 500
        start = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            labels = {
                "method": scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER",
                "route": route_template(scope["app"].routes, scope),
                "status": str(status),
            }
            REQUESTS.labels(**labels).inc()
            REQUEST_DURATION.labels(**labels).observe(time.perf_counter() - start)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR_VARIABLE))


def render_metrics() -> tuple[bytes, str]:
    """The exposition text of all metrics, and its content type."""
    if multiprocess_enabled():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
