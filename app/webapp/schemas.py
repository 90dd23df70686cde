"""Request and response bodies of the JSON API."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, Field(max_length=10_000)]


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""


class NoteUpdate(BaseModel):
    """Partial update: omitted fields keep their value; ``null`` is rejected."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None

    @field_validator("title", "body")
    @classmethod
    def reject_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


class NotePage(BaseModel):
    items: list[NoteRead]
    total: int
    limit: int
    offset: int


class HealthReport(BaseModel):
    status: str
    release: str
    database: str
