"""How a normaliser refuses input: a precise detail naming the field, and the HTTP status it deserves."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class InvalidPayload(ValueError):
    """The payload can never be accepted as sent (4xx, never retried usefully)."""

    def __init__(self, detail: str, *, status: int = 400, reason: str = "invalid_payload") -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.reason = reason


def field_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic's error location as the JSON path a sender recognises: ``alerts[0].labels.team``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def describe_validation_error(exc: ValidationError, *, limit: int = 5) -> str:
    """Up to ``limit`` problems, each ``path: message``; malformed JSON is said plainly."""
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return f"the body is not valid JSON: {errors[0]['msg'].removeprefix('Invalid JSON: ')}"
    parts = [f"{field_path(tuple(e['loc']))}: {e['msg']}" for e in errors[:limit]]
    more = len(errors) - limit
    if more > 0:
        parts.append(f"and {more} more problem(s)")
    return "; ".join(parts)


def parse_model(model: type[Model], body: bytes, expected: str) -> Model:
    """The body as ``model``, or InvalidPayload saying what was ``expected`` (empty) or which fields are wrong."""
    if not body.strip():
        raise InvalidPayload(f"the body is empty; expected {expected}", reason="empty_body")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidPayload(describe_validation_error(exc), reason="invalid_payload") from exc
