"""The OpenAPI document's error side, the same in every service: each error response is problem+json.

FastAPI documents 422 with its own ``HTTPValidationError`` body and error responses a route declares as
``application/json``; the apps return RFC 9457 problem+json instead. ``document_problems`` completes the document
once, when it is first built: every 4xx/5xx response gets the problem+json ``Problem`` schema (422 the
``ValidationProblem``; a route's own problem model, e.g. ``responses={422: {"model": ConfigRejected}}``, is kept
and filed under problem+json), every operation a token guards documents 401 and 403, every operation with a path
parameter 404. Routes added later are covered without doing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from alertrouter_shared.problems import PROBLEM_CONTENT_TYPE, Problem, ValidationProblem

_REF = "#/components/schemas/{model}"
_GENERIC = {
    "401": "No credentials, or ones that are unknown, expired or revoked",
    "403": "The caller may not do this (the detail says why)",
    "404": "Not found",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _problem_content(model: type[BaseModel]) -> dict[str, Any]:
    return {PROBLEM_CONTENT_TYPE: {"schema": _ref(model)}}


def _declared(response: dict[str, Any]) -> bool:
    """The route documented this error's body itself (FastAPI's validation error body does not count)."""
    schemas = [media.get("schema") for media in response.get("content", {}).values()]
    return any(schema and schema.get("$ref") != _REF.format(model="HTTPValidationError") for schema in schemas)


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if operation.get("security"):
        for status in ("401", "403"):
            responses.setdefault(status, {"description": _GENERIC[status]})
    if "{" in path:
        responses.setdefault("404", {"description": _GENERIC["404"]})
    for status, response in responses.items():
        if status[0] not in "45":
            continue
        content = response.get("content", {})
        if not _declared(response):
            response["content"] = _problem_content(ValidationProblem if status == "422" else Problem)
        elif "application/json" in content:  # a route's own problem model (FastAPI files it under JSON)
            content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")


def complete_document(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for model in (Problem, ValidationProblem):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            _complete_operation(path, operation)
    return document


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached by FastAPI)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
