"""The real router and a notifier listening on a real port, for the tests of answers (keys, SMS replies, buttons).

Answers act through the router's HTTP API, so these tests run the router itself (in-process, on the session's
Kafka and a database of its own) and check the incident it records, never a stand-in. Each test adds its own
ownership file (a user with the test's addresses, a policy, a service) and reloads the router's configuration, so
tests never share a phone number or a Slack id. Providers call the notifier back over a socket, so the notifier's
API is served on a free port and that URL is its public URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaProducer

from alertrouter_notifier.runtime import Notifier
from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.runtime import RouterRuntime
from alertrouter_router.settings import RouterSettings
from alertrouter_shared.auth import hash_token
from alertrouter_shared.clock import Clock
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, Page
from alertrouter_shared.serving import embedded_server
from alertrouter_shared.topics import ALERTS, PAGES
from tests.helpers import TopicReader, eventually, free_port

ROUTER_TOKEN = "notifier-suite-router-token"
INTEGRATION = "notifier-suite-am"
# A service no alert routes to, so the configuration never runs out of services when a test removes its own (a
# reload that would leave none is refused).
BASE_CONFIG = f"""
integrations:
  - {{id: {INTEGRATION}, type: alertmanager, key: notifier-suite-key, development_only: true}}
teams:
  - {{id: notifier-suite, name: Notifier suite, members: [notifier-suite-nobody]}}
users:
  - id: notifier-suite-nobody
    name: Nobody
    time_zone: UTC
    contact_methods: [{{id: nobody-hook, type: webhook, address: "http://127.0.0.1:9/nobody"}}]
    notification_rules: [{{contact_method: nobody-hook}}]
escalation_policies:
  - id: notifier-suite
    name: Notifier suite
    levels: [{{delay_minutes: 5, targets: [{{type: user, id: notifier-suite-nobody}}]}}]
services:
  - {{id: notifier-suite, name: Notifier suite, owner_team: notifier-suite, escalation_policy: notifier-suite}}
"""


@dataclass(frozen=True)
class Person:
    """One user of a test's ownership file and their contact methods: type -> address, or type -> the fields that
    reference it (``{"address_env": ...}``)."""

    id: str
    addresses: dict[str, str]
    references: dict[str, dict[str, str]] = field(default_factory=dict)


class ConfigRejected(Exception):
    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail"))
        self.problem = problem


class LiveRouter:
    def __init__(self, runtime: RouterRuntime, config_dir: Path, pages: TopicReader, producer: AIOKafkaProducer):
        self.runtime = runtime
        self.config_dir = config_dir
        self.pages = pages
        self.producer = producer
        self.url = f"http://127.0.0.1:{runtime.state.settings.port}"
        self.api = httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {ROUTER_TOKEN}"}, timeout=10)

    async def add_service(self, unique: str, levels: list[list[Person]], delay_minutes: int = 5) -> str:
        """A service whose policy pages ``levels`` (people by level); returns the service id."""
        service = f"svc-{unique}"
        people = {person.id: person for level in levels for person in level}
        users = [
            {
                "id": person.id,
                "name": person.id.title(),
                "time_zone": "UTC",
                "contact_methods": [
                    {"id": f"{person.id}-{kind}", "type": kind, "address": address}
                    for kind, address in person.addresses.items()
                ]
                + [{"id": f"{person.id}-{kind}", "type": kind, **ref} for kind, ref in person.references.items()],
                "notification_rules": [
                    {"contact_method": f"{person.id}-{kind}"} for kind in [*person.addresses, *person.references]
                ],
            }
            for person in people.values()
        ]
        document = {
            "users": users,
            "teams": [{"id": f"team-{unique}", "name": f"Team {unique}", "members": list(people)}],
            "escalation_policies": [
                {
                    "id": f"policy-{unique}",
                    "name": f"Policy {unique}",
                    "levels": [
                        {"delay_minutes": delay_minutes, "targets": [{"type": "user", "id": p.id} for p in level]}
                        for level in levels
                    ],
                }
            ],
            "services": [
                {
                    "id": service,
                    "name": f"Service {unique}",
                    "owner_team": f"team-{unique}",
                    "escalation_policy": f"policy-{unique}",
                }
            ],
            "route_rules": [
                {"id": f"route-{unique}", "service": service, "match": [{"label": "service", "value": service}]}
            ],
        }
        (self.config_dir / f"{unique}.yaml").write_text(yaml.safe_dump(document))
        response = await self.api.post("/v1/config/reload")
        if response.status_code != 200:
            (self.config_dir / f"{unique}.yaml").unlink()  # the next test's reload must not fail on this file
            raise ConfigRejected(response.json())
        return service

    async def remove_service(self, unique: str) -> None:
        """Drop a test's ownership file (one whose references will not resolve after the test) and reload."""
        (self.config_dir / f"{unique}.yaml").unlink(missing_ok=True)
        response = await self.api.post("/v1/config/reload")
        assert response.status_code == 200, response.text

    async def trigger(self, service: str, summary: str, count: int = 1) -> list[Page]:
        """An alert for ``service``; returns the router's pages for it (``count`` of them, polled)."""
        key = f"{service}/{uuid.uuid4().hex[:8]}"
        await self._alert(AlertAction.TRIGGER, service, key, summary)

        async def pages() -> list[Page] | None:
            found = [p for p in (Page.model_validate_json(v) for v in self.pages.values) if p.dedup_key == key]
            return found if len(found) >= count else None

        return await eventually(pages, timeout=30, what=f"{count} page(s) from the router for {key}")

    async def alert_resolved(self, page: Page) -> None:
        """The source says the problem of ``page``'s alert is gone (an auto-resolve); returns once the router
        resolved the incident."""
        await self._alert(AlertAction.RESOLVE, page.service_id, page.dedup_key, page.summary)

        async def resolved() -> bool:
            return bool((await self.incident(page.incident_id))["incident"]["status"] == "resolved")

        await eventually(resolved, timeout=30, what=f"incident {page.incident_id} resolved by its alert")

    async def _alert(self, action: AlertAction, service: str, key: str, summary: str) -> None:
        now = datetime.now(UTC)
        event = AlertEvent(
            source=AlertSource.ALERTMANAGER,
            integration_id=INTEGRATION,
            action=action,
            dedup_key=key,
            summary=summary,
            labels={"service": service, "alertname": "HighErrorRate"},
            occurred_at=now,
            received_at=now,
        )
        await self.producer.send_and_wait(ALERTS, event.model_dump_json().encode(), key=key.encode())

    async def incident(self, incident_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/v1/incidents/{incident_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def close(self) -> None:
        await self.api.aclose()


@contextlib.asynccontextmanager
async def live_router(
    kafka: str, database_url: str, config_dir: Path, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[LiveRouter]:
    """``clock``: the router's, for tests that move time; ``overrides``: router settings."""
    await asyncio.to_thread(upgrade_to_head, database_url, 30)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "base.yaml").write_text(BASE_CONFIG)
    settings = RouterSettings(
        kafka_bootstrap_servers=kafka,
        database_url=database_url,
        config_path=str(config_dir),
        host="127.0.0.1",
        port=free_port(),
        consumer_group=f"notifier-suite-router-{uuid.uuid4().hex[:6]}",
        api_tokens=f"{hash_token(ROUTER_TOKEN)}:read+write",
        escalation_poll_seconds=0.2,
        outbox_poll_seconds=0.2,
        kafka_create_topics=False,
        **overrides,
    )
    runtime = RouterRuntime(settings, clock=clock)
    await runtime.start()
    pages = await TopicReader(kafka, PAGES).start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    router = LiveRouter(runtime, config_dir, pages, producer)
    try:
        yield router
    finally:
        await router.close()
        await producer.stop()
        await pages.stop()
        runtime.stop()
        await asyncio.wait_for(runtime.wait(), 30)


@contextlib.asynccontextmanager
async def served(notifier: Notifier) -> AsyncIterator[str]:
    """The notifier's API on its configured port (its public URL points there); yields that URL."""
    server = embedded_server(notifier.create_app(), "127.0.0.1", notifier.settings.port)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    raise RuntimeError(f"the notifier API did not start: {task.exception()!r}")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{notifier.settings.port}"
    finally:
        server.should_exit = True
        await task


def public_settings() -> dict[str, Any]:
    """Settings overrides that make the notifier reachable by providers on a free port."""
    port = free_port()
    return {"port": port, "public_url": f"http://127.0.0.1:{port}"}
