"""What every request and response model shares: no undeclared members, instants as RFC 3339 strings, cursor pages."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# Routes render instants themselves (``isoformat``); the document says what the string is.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Reply(BaseModel):
    """A response body: a member the route adds without declaring it here is an error, not a silent extra."""

    model_config = ConfigDict(extra="forbid")


class RequestBody(BaseModel):
    """A request body: a member the route does not know is a 422 naming it. Ignored, a misspelt member changed
    what the request did without a word (``start_at`` for ``starts_at``: a window tonight began now)."""

    model_config = ConfigDict(extra="forbid")


class OpenReply(BaseModel):
    """A body whose members vary with its kind (timeline entries, stored checks): the declared ones and more."""

    model_config = ConfigDict(extra="allow")


Cursor = Annotated[str | None, Field(description="pass as ?cursor= for the next page; null on the last page")]
