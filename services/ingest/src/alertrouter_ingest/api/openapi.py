"""The OpenAPI document: FastAPI's, plus the request bodies ingest parses itself (raw bytes, strict rules).

Handlers read raw bodies (size limit first, fast JSON decoding, precise errors), so FastAPI cannot infer their
request schemas; each route declares its body model here and the document is completed at first request.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from alertrouter_shared.problems import Problem

_DOCUMENTED: dict[str, type[BaseModel]] = {"Problem": Problem}
_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    _DOCUMENTED[model.__name__] = model
    return {"$ref": _REF.format(model=model.__name__)}


def request_body(model: type[BaseModel], *content_types: str) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the request body for each content type."""
    schema = _ref(model)
    return {"requestBody": {"required": True, "content": {kind: {"schema": schema} for kind in content_types}}}


def json_body(model: type[BaseModel], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return _response(model, "application/json", description, headers)


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return _response(Problem, "application/problem+json", description, headers)


def _response(
    model: type[BaseModel], content_type: str, description: str, headers: dict[str, Any] | None
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {content_type: {"schema": _ref(model)}}}
    if headers:
        response["headers"] = headers
    return response


# Every intake reads its body through protection.read_body, which answers 408 past the read deadline.
BODY_TIMEOUT = problem("The body did not arrive within the body read deadline")
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
    )
    components = document.setdefault("components", {})
    components["securitySchemes"] = {
        "bearerKey": {"type": "http", "scheme": "bearer", "description": "The integration key as a Bearer token"},
        "basicKey": {"type": "http", "scheme": "basic", "description": "The integration key as the password"},
    }
    schemas = components.setdefault("schemas", {})
    for name, model in _DOCUMENTED.items():
        schema = model.model_json_schema(by_alias=True, ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    for path in document.get("paths", {}).values():
        for operation in path.values():
            # Path parameters are plain strings: FastAPI's generic 422 never happens on these routes.
            operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = document
    return document
