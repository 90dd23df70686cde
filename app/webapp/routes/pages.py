"""GET /: a small HTML page for people."""

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from webapp.dependencies import SettingsDep

router = APIRouter(tags=["pages"])

# Only an external stylesheet and no inline style or script, so this holds.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}</title>
<link rel="stylesheet" href="{stylesheet}">
</head>
<body>
<main>
<h1>{name}</h1>
<dl>
<dt>Release</dt><dd><code>{release}</code></dd>
<dt>Process started</dt><dd><time datetime="{started}">{started}</time></dd>
</dl>
<ul>
<li><a href="{docs}">API documentation</a></li>
<li><a href="{health}">Health</a></li>
<li><a href="{notes}">Notes (JSON)</a></li>
</ul>
</main>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    started = request.app.state.started_at.isoformat(timespec="seconds")
    page = PAGE.format(
        name=escape(settings.name),
        release=escape(settings.release),
        started=escape(started),
        stylesheet=escape(request.url_for("static", path="style.css").path),
        docs=escape(request.url_for("swagger_ui").path),
        health=escape(request.url_for("health").path),
        notes=escape(request.url_for("list_notes").path),
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
