"""The HTML home page and the static files."""

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_settings, serve
from webapp.main import STATIC_DIR, create_app

pytestmark = pytest.mark.anyio

HOSTILE_NAME = '<script>alert("x")</script> & Co'


async def test_home_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<h1>FastAPI Kit demo</h1>" in page
    assert "<code>test-release-1</code>" in page
    for link in ("/docs", "/health", "/api/notes"):
        assert f'<a href="{link}">' in page
    assert '<link rel="stylesheet" href="/static/style.css">' in page


async def test_home_page_shows_start_time(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    started = page.split('<time datetime="')[1].split('"')[0]
    started_at = datetime.fromisoformat(started)
    assert started_at.utcoffset() is not None
    assert started_at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - started_at).total_seconds()) < 60


async def test_home_page_has_no_inline_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    page = response.text.lower()
    assert "<style" not in page
    assert "<script" not in page
    assert " style=" not in page
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_home_page_escapes_the_name(database_path: Path) -> None:
    app = create_app(make_settings(database_path, name=HOSTILE_NAME))
    async with serve(app) as client:
        page = (await client.get("/")).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page


async def test_links_follow_the_servers_root_path(app: FastAPI) -> None:
    async with serve(app, root_path="/notes-app") as client:
        page = (await client.get("/notes-app/")).text
    for link in ("/notes-app/docs", "/notes-app/health", "/notes-app/api/notes"):
        assert f'<a href="{link}">' in page
    assert 'href="/notes-app/static/style.css"' in page


async def test_stylesheet_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.content == (STATIC_DIR / "style.css").read_bytes()


async def test_openapi_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["version"] == "test-release-1"
    assert {"/health", "/api/notes", "/api/notes/{note_id}", "/metrics"} <= set(schema["paths"])
