"""GET /docs (Swagger UI) and /redoc (ReDoc), served without a CDN or inline code.

FastAPI's own pages load their scripts from cdn.jsdelivr.net and start Swagger UI with
an inline script, so they stay blank on servers without internet access and under a
Content-Security-Policy such as ``default-src 'self'``. These pages load everything
from /docs-assets/ (see :func:`docs_assets`) and send a policy of their own.
"""

from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

DOCS_ASSETS_PREFIX = "/docs-assets"
DOCS_ASSETS_NAME = "docs-assets"
# This application's files for the pages: the Swagger UI start script and the like.
DOCS_ASSETS_DIR = Path(__file__).resolve().parent.parent / "docs_assets"
# Swagger UI and ReDoc themselves, from the pinned fastapi-offline package.
ASSETS_PACKAGE = ("fastapi_offline", "static")


def csp(*directives: str) -> str:
    """A Content-Security-Policy allowing ``directives`` and nothing else.

    Each source below was found needed by rendering the page in Chromium under the
    policy without it. None needs ``'unsafe-eval'``.
    """
    common = ("base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'")
    return "; ".join(("default-src 'none'", *directives, *common))


# Swagger UI's stylesheet draws icons (select arrows, copy buttons, model toggles) as
# data: images; it fetches the schema, and "Try it out" calls the API.
SWAGGER_UI_CSP = csp(
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
)
# The redirect page only runs its script, which hands the result to the opener.
OAUTH2_REDIRECT_CSP = csp("script-src 'self'")
# ReDoc styles with styled-components, which adds <style> elements at run time (a
# nonce cannot reach them: it is internal to the bundle), shows data: icons, fetches the
# schema, and runs its search index in a worker made from a blob: URL. Its sidebar's
# logo from cdn.redoc.ly is blocked on purpose; ReDoc then leaves it out.
REDOC_CSP = csp(
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "worker-src blob:",
)

SWAGGER_UI_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{stylesheet}">
<link rel="icon" href="{favicon}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}" data-oauth2-redirect-url="{oauth2_redirect}">
</div>
<script src="{bundle}"></script>
<script src="{start}"></script>
</body>
</html>
"""

OAUTH2_REDIRECT_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<script src="{script}"></script>
</body>
</html>
"""

REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="stylesheet" href="{stylesheet}">
<link rel="icon" href="{favicon}">
</head>
<body>
<noscript>ReDoc needs JavaScript to show the API documentation.</noscript>
<redoc spec-url="{openapi}"></redoc>
<script src="{bundle}"></script>
</body>
</html>
"""


def docs_assets() -> StaticFiles:
    """The files the pages load, for mounting at :data:`DOCS_ASSETS_PREFIX`.

    Not under /static/, which nginx may serve from ``webapp/static/`` alone.
    """
    return StaticFiles(directory=DOCS_ASSETS_DIR, packages=[ASSETS_PACKAGE])


def asset(request: Request, name: str) -> str:
    """The escaped path of an asset, under the server's root path."""
    return escape(request.url_for(DOCS_ASSETS_NAME, path=name).path)


def openapi_path(request: Request) -> str:
    """The escaped path of the OpenAPI schema, under the server's root path."""
    root_path = request.scope.get("root_path", "").rstrip("/")
    return escape(root_path + str(request.app.openapi_url))


def page(html: str, policy: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    html = SWAGGER_UI_PAGE.format(
        title=escape(request.app.title),
        stylesheet=asset(request, "swagger-ui.css"),
        favicon=asset(request, "favicon.png"),
        openapi=openapi_path(request),
        oauth2_redirect=escape(request.url_for("swagger_ui_oauth2_redirect").path),
        bundle=asset(request, "swagger-ui-bundle.js"),
        start=asset(request, "swagger-ui-start.js"),
    )
    return page(html, SWAGGER_UI_CSP)


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
    """Where an OAuth2 provider sends the browser back to after Swagger UI's "Authorize"."""
    html = OAUTH2_REDIRECT_PAGE.format(script=asset(request, "oauth2-redirect.js"))
    return page(html, OAUTH2_REDIRECT_CSP)


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    html = REDOC_PAGE.format(
        title=escape(request.app.title),
        stylesheet=asset(request, "redoc-page.css"),
        favicon=asset(request, "favicon.png"),
        openapi=openapi_path(request),
        bundle=asset(request, "redoc.standalone.js"),
    )
    return page(html, REDOC_CSP)
