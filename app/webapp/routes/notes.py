"""JSON CRUD for notes under /api/notes: reads are public, writes need the token."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from webapp.auth import require_token
from webapp.dependencies import SessionDep
from webapp.models import Note
from webapp.schemas import NoteCreate, NotePage, NoteRead, NoteUpdate

router = APIRouter(prefix="/api/notes", tags=["notes"])

Authorized = [Depends(require_token)]
NOT_FOUND = {404: {"description": "No note with this id."}}
UNAUTHORIZED = {401: {"description": "Missing or wrong bearer token."}}


async def load_note(session: AsyncSession, note_id: int) -> Note:
    """The note with this id, or a 404 response."""
    note = await session.get(Note, note_id)
    if note is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Note not found.")
    return note


@router.get("")
async def list_notes(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NotePage:
    """Notes, newest first."""
    total = await session.scalar(select(func.count()).select_from(Note))
    rows = await session.scalars(select(Note).order_by(Note.id.desc()).limit(limit).offset(offset))
    items = [NoteRead.model_validate(note) for note in rows]
    return NotePage(items=items, total=total or 0, limit=limit, offset=offset)


@router.post(
    "",
    response_model=NoteRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=Authorized,
    responses=UNAUTHORIZED,
)
async def create_note(
    payload: NoteCreate, session: SessionDep, request: Request, response: Response
) -> Note:
    note = Note(title=payload.title, body=payload.body)
    session.add(note)
    await session.commit()
    response.headers["Location"] = request.url_for("get_note", note_id=str(note.id)).path
    return note


@router.get("/{note_id}", response_model=NoteRead, responses=NOT_FOUND)
async def get_note(note_id: int, session: SessionDep) -> Note:
    return await load_note(session, note_id)


@router.patch(
    "/{note_id}",
    response_model=NoteRead,
    dependencies=Authorized,
    responses=NOT_FOUND | UNAUTHORIZED,
)
async def update_note(note_id: int, payload: NoteUpdate, session: SessionDep) -> Note:
    note = await load_note(session, note_id)
    for field, value in payload.model_dump(exclude_unset=True).items():
        setattr(note, field, value)
    await session.commit()
    return note


@router.delete(
    "/{note_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=Authorized,
    responses=NOT_FOUND | UNAUTHORIZED,
)
async def delete_note(note_id: int, session: SessionDep) -> None:
    note = await load_note(session, note_id)
    await session.delete(note)
    await session.commit()
