"""/docs and /redoc: no CDN, no inline code, a strict Content-Security-Policy."""

from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import serve

pytestmark = pytest.mark.anyio

DOCS_PAGES = ["/docs", "/redoc", "/docs/oauth2-redirect"]
JS_TYPES = ("text/javascript", "application/javascript")


class PageParser(HTMLParser):
    """Collects the URLs a page loads and whatever inline code it has."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[tuple[str, str]] = []  # (rel, href)
        self.inline: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "style" in values or any(name.startswith("on") for name in values):
            self.inline.append(f"{tag} attribute")
        if tag == "style":
            self.inline.append("<style>")
        elif tag == "script":
            if "src" not in values:
                self.inline.append("<script> without src")
            self.scripts.append(values.get("src", ""))
            self.in_script = True
        elif tag == "link":
            self.links.append((values.get("rel", ""), values.get("href", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.inline.append(f"script text {data.strip()[:40]!r}")


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def is_same_origin_path(url: str, prefix: str = "/") -> bool:
    """A URL naming no scheme or host: a path on the page's own server."""
    return url.startswith(prefix) and not url.startswith("//") and ":" not in url


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize("path", DOCS_PAGES)
async def test_page_loads_only_same_origin_files(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = parse(response.text)
    assert page.inline == []
    assert page.scripts, "the page loads no script"

    for src in page.scripts:
        assert is_same_origin_path(src, "/docs-assets/"), src
        asset = await client.get(src)
        assert asset.status_code == 200, src
        assert asset.headers["content-type"].startswith(JS_TYPES), src
    for rel, href in page.links:
        assert is_same_origin_path(href, "/docs-assets/"), href
        asset = await client.get(href)
        assert asset.status_code == 200, href
        expected = "text/css" if rel == "stylesheet" else "image/"
        assert asset.headers["content-type"].startswith(expected), href


@pytest.mark.parametrize("path", DOCS_PAGES)
async def test_page_names_no_other_server(client: httpx.AsyncClient, path: str) -> None:
    page = (await client.get(path)).text.lower()
    assert "cdn" not in page
    assert "http" not in page
    assert "//" not in page


@pytest.mark.parametrize("path", DOCS_PAGES)
async def test_page_sends_a_strict_policy(client: httpx.AsyncClient, path: str) -> None:
    policy = directives((await client.get(path)).headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    sources = {source for values in policy.values() for source in values}
    assert "'unsafe-eval'" not in sources
    assert not {source for source in sources if "http" in source or source == "*"}


async def test_only_redoc_allows_inline_styles(client: httpx.AsyncClient) -> None:
    swagger = directives((await client.get("/docs")).headers["content-security-policy"])
    redoc = directives((await client.get("/redoc")).headers["content-security-policy"])
    assert swagger["style-src"] == ["'self'"]
    assert redoc["style-src"] == ["'self'", "'unsafe-inline'"]
    assert redoc["worker-src"] == ["blob:"]


async def test_pages_point_at_the_schema(client: httpx.AsyncClient) -> None:
    swagger = (await client.get("/docs")).text
    assert 'data-openapi-url="/openapi.json"' in swagger
    assert 'data-oauth2-redirect-url="/docs/oauth2-redirect"' in swagger
    assert '<redoc spec-url="/openapi.json">' in (await client.get("/redoc")).text
    assert (await client.get("/openapi.json")).status_code == 200


async def test_pages_follow_the_servers_root_path(app: FastAPI) -> None:
    async with serve(app, root_path="/notes-app") as client:
        for path in DOCS_PAGES:
            response = await client.get(f"/notes-app{path}")
            assert response.status_code == 200
            page = parse(response.text)
            for url in [*page.scripts, *(href for _, href in page.links)]:
                assert is_same_origin_path(url, "/notes-app/docs-assets/"), url
                assert (await client.get(url)).status_code == 200, url
        swagger = (await client.get("/notes-app/docs")).text
        assert 'data-openapi-url="/notes-app/openapi.json"' in swagger
        assert 'data-oauth2-redirect-url="/notes-app/docs/oauth2-redirect"' in swagger
        redoc = (await client.get("/notes-app/redoc")).text
        assert '<redoc spec-url="/notes-app/openapi.json">' in redoc


async def test_home_page_links_to_the_docs(client: httpx.AsyncClient) -> None:
    home = (await client.get("/")).text
    assert '<a href="/docs">' in home
    assert "swagger-ui" in (await client.get("/docs")).text


async def test_assets_come_from_the_pinned_package(client: httpx.AsyncClient) -> None:
    spec = find_spec("fastapi_offline")
    assert spec is not None
    assert spec.origin is not None
    package_static = Path(spec.origin).parent / "static"
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = await client.get(f"/docs-assets/{name}")
        assert response.content == (package_static / name).read_bytes()


async def test_docs_pages_are_not_in_the_schema(client: httpx.AsyncClient) -> None:
    paths = set((await client.get("/openapi.json")).json()["paths"])
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & paths
    assert not any(path.startswith("/docs-assets") for path in paths)


async def test_assets_outside_static(client: httpx.AsyncClient) -> None:
    """nginx may serve /static/ from webapp/static/ alone: the docs' files are elsewhere."""
    assert (await client.get("/static/swagger-ui-bundle.js")).status_code == 404
