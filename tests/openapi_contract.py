"""Checks a service's answers against its own OpenAPI document.

``Contract`` finds the documented operation of each response (by method and path template), checks that the
status and content type are documented and validates a JSON body against the documented schema (JSON Schema
2020-12, as OpenAPI 3.1 uses, resolving ``#/components`` in the document). ``uncovered`` names the operations no
checked call answered with success: a route added later fails the contract test until a call of it is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

METHODS = ("get", "put", "post", "delete", "patch")


def check_document(document: dict[str, Any], *, bearer_prefix: str = "/v1/") -> None:
    """The document is valid OpenAPI; every /v1 operation declares a security scheme (bearer, unless the route
    is called by a provider that signs instead); no success answers a bare ``object``."""
    validate(document)
    schemes = document.get("components", {}).get("securitySchemes", {})
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        if path.startswith(bearer_prefix):
            declared = [name for requirement in operation.get("security", []) for name in requirement]
            assert declared, f"{where} declares no security scheme"
            assert all(name in schemes for name in declared), f"{where}: {declared} not in {sorted(schemes)}"
        for status, response in operation["responses"].items():
            for media, content in response.get("content", {}).items():
                if status.startswith("2") and "json" in media:
                    assert not _bare(document, content.get("schema", {})), f"{where} {status}: a bare object"
                if status[0] in "45" and "json" in media:
                    assert media == "application/problem+json", f"{where} {status} is documented as {media}"


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _bare(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object schema that says nothing of its members (or no schema at all)."""
    schema = _resolve(document, schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        return any(_bare(document, s) for s in alternatives)
    return not schema or (schema.get("type") in ("object", None) and not schema.get("properties"))


@dataclass
class Contract:
    document: dict[str, Any]
    checked: int = 0
    succeeded: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._templates = sorted(
            (
                (re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(p)) + "$"), p)
                for p in self.document["paths"]
            ),
            key=lambda found: found[1].count("{"),  # a literal segment wins over a parameter
        )

    def template(self, path: str) -> str | None:
        return next((template for pattern, template in self._templates if pattern.match(path)), None)

    def check(self, response: httpx.Response) -> httpx.Response:
        """Asserts the answer is documented and matches its schema; returns it for the test to go on."""
        method, path = response.request.method.lower(), response.request.url.path
        template = self.template(path)
        assert template is not None and method in self.document["paths"][template], f"{method} {path} undocumented"
        operation = self.document["paths"][template][method]
        where = f"{method.upper()} {path} -> {response.status_code}"
        documented = operation["responses"].get(str(response.status_code)) or operation["responses"].get("default")
        assert documented is not None, f"{where} is not documented ({sorted(operation['responses'])}): {response.text}"
        media = response.headers.get("content-type", "").split(";")[0].strip()
        content = documented.get("content", {})
        if response.status_code == 204 or not response.content:
            assert not content or response.status_code != 204, f"{where}: documented with a body"
        else:
            assert media in content, f"{where}: {media} is not documented ({sorted(content)})"
            schema = content[media].get("schema")
            if "json" in media and schema:
                self.validate(schema, response.json(), where)
        self.checked += 1
        if response.is_success:
            self.succeeded.add((method, template))
        return response

    def validate(self, schema: dict[str, Any], body: Any, where: str) -> None:
        rooted = {**schema, "components": self.document.get("components", {})}
        errors = sorted(Draft202012Validator(rooted).iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{where}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors[:5]
        )

    def uncovered(self) -> list[str]:
        return sorted(
            f"{method.upper()} {path}"
            for path, method, _ in operations(self.document)
            if (method, path) not in self.succeeded
        )


async def check_unknown_routes(client: httpx.AsyncClient, contract: Contract) -> None:
    """Paths no route serves answer 404 problem+json with the documented Problem body."""
    for path in ("/v1/nope", "/nope"):
        response = await client.get(path)
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json"), response.headers
        problem = {"$ref": "#/components/schemas/Problem"}
        contract.validate(problem, response.json(), f"GET {path}")
        assert response.json()["status"] == 404
