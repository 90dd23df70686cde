"""GET /metrics: request metrics by route template, release info, multiprocess mode."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RELEASE, child_environment

pytestmark = pytest.mark.anyio


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels``, 0 if absent."""
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return 0.0


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_counted_by_route_template(client: httpx.AsyncClient) -> None:
    labels = {"method": "GET", "route": "/api/notes/{note_id}", "status": "404"}
    before = await scrape(client)
    for note_id in (101, 102, 103):
        assert (await client.get(f"/api/notes/{note_id}")).status_code == 404
    after = await scrape(client)

    assert sample(after, "http_requests_total", **labels) - sample(
        before, "http_requests_total", **labels
    ) == pytest.approx(3)
    assert sample(after, "http_request_duration_seconds_count", **labels) - sample(
        before, "http_request_duration_seconds_count", **labels
    ) == pytest.approx(3)
    assert "/api/notes/101" not in after


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    labels = {"method": "GET", "route": "<unmatched>", "status": "404"}
    before = sample(await scrape(client), "http_requests_total", **labels)
    await client.get("/no/such/page")
    await client.get("/another/one")
    after = await scrape(client)
    assert sample(after, "http_requests_total", **labels) - before == pytest.approx(2)
    assert "/no/such/page" not in after


async def test_odd_methods_share_one_label(client: httpx.AsyncClient) -> None:
    await client.request("BREW", "/health")
    exposition = await scrape(client)
    assert sample(exposition, "http_requests_total", method="OTHER", route="/health", status="405")
    assert "BREW" not in exposition


async def test_release_info(client: httpx.AsyncClient) -> None:
    assert sample(await scrape(client), "app_build_info", release=RELEASE) == 1


# Serves some requests with the app in a process of its own, then optionally prints /metrics.
WORKER_SCRIPT = """
import asyncio, sys
import httpx
from pydantic import SecretStr
from webapp.main import create_app
from webapp.settings import Settings

async def main(database, requests, show):
    settings = Settings(
        _env_file=None, database_path=database, api_token=SecretStr("t" * 16), release="mp"
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=transport, base_url="http://worker"
    ) as client:
        for _ in range(requests):
            await client.get("/api/notes")
        if show:
            print((await client.get("/metrics")).text)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "show"))
"""


def run_worker(database: Path, requests: int, show: bool, env: dict[str, str]) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER_SCRIPT,
            str(database),
            str(requests),
            "show" if show else "quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(("multiprocess", "expected"), [(True, 5), (False, 2)])
def test_multiprocess_mode_sums_all_processes(
    tmp_path: Path, database_path: Path, multiprocess: bool, expected: int
) -> None:
    env = child_environment(tmp_path)
    if multiprocess:
        (tmp_path / "prometheus").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")

    run_worker(database_path, 3, show=False, env=env)
    exposition = run_worker(database_path, 2, show=True, env=env)

    labels = {"method": "GET", "route": "/api/notes", "status": "200"}
    assert sample(exposition, "http_requests_total", **labels) == expected
    assert sample(exposition, "app_build_info", release="mp") == 1
