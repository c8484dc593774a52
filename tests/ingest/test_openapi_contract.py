"""The OpenAPI document against the running service (schemathesis): every answer is documented, conforms to
its schema and content type, and nothing generated from the schema makes ingest fail with a 5xx."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err

from alertrouter_ingest.app import create_app
from alertrouter_ingest.settings import IngestSettings
from tests.helpers import free_port
from tests.ingest.conftest import CONFIG, ingest_settings

schema = schemathesis.openapi.from_dict(create_app(IngestSettings(config_path=str(CONFIG))).openapi())


@pytest.fixture(scope="module")
def base_url(kafka_bootstrap: str) -> Iterator[str]:
    """Ingest under uvicorn in its own thread and event loop, with its own producer on the real broker."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(ingest_settings(kafka_bootstrap)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "ingest did not become ready"
        time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=15)


def test_the_document_declares_every_intake() -> None:
    paths = schema.raw_schema["paths"]
    assert set(paths) >= {
        "/v1/alertmanager/{integration_key}",
        "/v1/alertmanager",
        "/v1/cloudwatch/{integration_key}",
        "/v2/enqueue",
    }
    enqueue = paths["/v2/enqueue"]["post"]
    assert enqueue["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EnqueueEvent"
    }
    assert set(enqueue["responses"]) == {"202", "400", "404", "408", "413", "415", "429", "503"}
    assert "422" not in paths["/v1/alertmanager/{integration_key}"]["post"]["responses"]
    sns_types = paths["/v1/cloudwatch/{integration_key}"]["post"]["requestBody"]["content"]
    assert set(sns_types) == {"text/plain", "application/json"}
    assert schema.raw_schema["components"]["schemas"]["AlertmanagerWebhook"]["examples"]


def test_every_route_with_a_body_documents_the_bounded_read() -> None:
    """Every body is read through the same bounded reader: too large is 413, too slow is 408, on every route."""
    with_body = [
        (path, operation)
        for path, item in schema.raw_schema["paths"].items()
        for operation in item.values()
        if isinstance(operation, dict) and "requestBody" in operation
    ]
    assert len(with_body) >= 6
    for path, operation in with_body:
        assert {"408", "413"} <= set(operation["responses"]), path


# One test per operation, named by it. schemathesis's own ``schema.parametrize()`` gave all twelve the same node id,
# which pytest-xdist (``make test`` runs two workers) keeps once: eleven operations were never checked.
def _operations() -> list[Any]:
    """Every operation of the document; one schemathesis cannot read fails the module rather than being left out."""
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        found.append(result.ok())
    return found


OPERATIONS = _operations()


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_api_conforms_to_its_openapi_document(operation: Any, base_url: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def conforms(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=base_url, excluded_checks=[schemathesis.checks.positive_data_acceptance])

    conforms()


def test_every_operation_is_checked() -> None:
    assert len(OPERATIONS) >= 12 and len({operation.label for operation in OPERATIONS}) == len(OPERATIONS)
