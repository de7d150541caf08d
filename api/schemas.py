"""Response and request bodies of the API that are not the index's or the configuration's own
models (those are served as they are: SearchResponse, IndexedDocument, Taxonomy)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.sources_status import SourceState


class ErrorItem(BaseModel):
    """One problem with a request: where (``["query", "limit"]``), what, and its kind."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: a sentence saying what is wrong (and what to do), and for validation
    errors each problem."""

    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)


class Health(BaseModel):
    """Whether the API can answer, and what it serves."""

    status: str = Field(description="ok")
    version: str
    backend: str = Field(description="embedded or opensearch")
    documents: int
    chunks: int
    embedding_model: str
    writes_enabled: bool = Field(description="Whether a token is configured for the write endpoints")


class SourceInfo(BaseModel):
    """A source: its configuration (when it is in the catalogue) and what the registry knows."""

    name: str
    configured: bool = Field(description="In the source catalogue (sources.yaml); ad-hoc sources are not")
    kind: str | None = None
    location: str | None = Field(None, description="URL, URLs or folder of the source")
    publisher: str | None = None
    enabled: bool | None = None
    schedule: dict[str, Any] | None = None
    description: str = ""
    state: SourceState = Field(default_factory=SourceState)


class IngestRequest(BaseModel):
    """Which catalogue sources to ingest (by name); empty: every enabled source."""

    model_config = {"extra": "forbid"}

    sources: list[str] = Field(default_factory=list, max_length=200)


class Deleted(BaseModel):
    """The id of a deleted document."""

    deleted: str
