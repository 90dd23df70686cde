"""GET /metrics: Prometheus exposition."""

from fastapi import APIRouter, Response

from webapp.metrics import render_metrics

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    payload, content_type = render_metrics()
    return Response(payload, media_type=content_type, headers={"Cache-Control": "no-store"})
