"""The notes API: CRUD, pagination, authentication and validation."""

from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import BOTH_BACKENDS, TOKEN

pytestmark = [pytest.mark.anyio, BOTH_BACKENDS]


async def create(
    client: httpx.AsyncClient, auth: dict[str, str], title: str, body: str = ""
) -> dict:
    response = await client.post("/api/notes", json={"title": title, "body": body}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_and_read(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post(
        "/api/notes", json={"title": "  Groceries  ", "body": "milk"}, headers=auth
    )
    assert response.status_code == 201
    note = response.json()
    assert note["title"] == "Groceries"
    assert note["body"] == "milk"
    assert response.headers["location"] == f"/api/notes/{note['id']}"

    created_at = datetime.fromisoformat(note["created_at"])
    assert created_at.utcoffset() is not None
    assert created_at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created_at).total_seconds()) < 60

    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == note


async def test_body_defaults_to_empty(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post("/api/notes", json={"title": "Only a title"}, headers=auth)
    assert response.status_code == 201
    assert response.json()["body"] == ""


async def test_list_paginates_newest_first(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    ids = [(await create(client, auth, f"note {n}"))["id"] for n in range(5)]

    first = (await client.get("/api/notes", params={"limit": 2})).json()
    assert first["total"] == 5
    assert (first["limit"], first["offset"]) == (2, 0)
    assert [item["id"] for item in first["items"]] == [ids[4], ids[3]]

    last = (await client.get("/api/notes", params={"limit": 2, "offset": 4})).json()
    assert [item["title"] for item in last["items"]] == ["note 0"]

    beyond = (await client.get("/api/notes", params={"offset": 10})).json()
    assert beyond == {"items": [], "total": 5, "limit": 20, "offset": 10}


async def test_patch_changes_given_fields(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    note = await create(client, auth, "Draft", "first body")
    response = await client.patch(f"/api/notes/{note['id']}", json={"title": "Final"}, headers=auth)
    assert response.status_code == 200
    patched = response.json()
    assert patched["title"] == "Final"
    assert patched["body"] == "first body"
    assert patched["created_at"] == note["created_at"]
    assert datetime.fromisoformat(patched["updated_at"]) > datetime.fromisoformat(
        note["updated_at"]
    )
    assert (await client.get(f"/api/notes/{note['id']}")).json() == patched


async def test_delete(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    note = await create(client, auth, "Temporary")
    response = await client.delete(f"/api/notes/{note['id']}", headers=auth)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/notes/{note['id']}")).status_code == 404
    assert (await client.get("/api/notes")).json()["total"] == 0


@pytest.mark.parametrize(
    ("method", "json"),
    [("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)],
)
async def test_missing_note_is_404(
    client: httpx.AsyncClient, auth: dict[str, str], method: str, json: dict | None
) -> None:
    response = await client.request(method, "/api/notes/4242", json=json, headers=auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "Note not found."}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["none", "wrong", "longer", "basic-scheme", "no-scheme"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/notes"), ("PATCH", "/api/notes/1"), ("DELETE", "/api/notes/1")],
)
async def test_writes_need_the_token(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    headers: dict[str, str],
    method: str,
    path: str,
) -> None:
    await create(client, auth, "Protected")
    response = await client.request(method, path, json={"title": "changed"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    note = (await client.get("/api/notes/1")).json()
    assert note["title"] == "Protected"


async def test_reads_are_public(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    note = await create(client, auth, "Public")
    assert (await client.get("/api/notes")).status_code == 200
    assert (await client.get(f"/api/notes/{note['id']}")).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({}, "title"),
        ({"title": "ok", "body": "x" * 10_001}, "body"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ],
    ids=["empty", "blank", "too-long", "missing", "body-too-long", "unknown-field"],
)
async def test_invalid_note_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], payload: dict, field: str
) -> None:
    response = await client.post("/api/notes", json=payload, headers=auth)
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


async def test_longest_valid_values_are_accepted(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    note = await create(client, auth, "t" * 200, "b" * 10_000)
    assert len(note["title"]) == 200
    assert len(note["body"]) == 10_000


@pytest.mark.parametrize("payload", [{"title": None}, {"body": None}, {"title": " "}])
async def test_invalid_patch_is_422(
    client: httpx.AsyncClient, auth: dict[str, str], payload: dict
) -> None:
    note = await create(client, auth, "Keep me")
    response = await client.patch(f"/api/notes/{note['id']}", json=payload, headers=auth)
    assert response.status_code == 422
    assert (await client.get(f"/api/notes/{note['id']}")).json()["title"] == "Keep me"


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"offset": -1}],
    ids=["limit-0", "limit-101", "limit-text", "negative-offset"],
)
async def test_bad_pagination_is_422(client: httpx.AsyncClient, params: dict) -> None:
    response = await client.get("/api/notes", params=params)
    assert response.status_code == 422


async def test_non_integer_id_is_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/notes/abc")).status_code == 422
