"""Shift reminders end to end: the real router (its clock moved by the test) finds anna's shift an hour ahead and
sends one reminder, which the notifier posts to her Slack; restarted routers (two of them) do not send it again,
not even after she chose another contact method; an override made through the API puts cara on call at once and
she is told by email, in her own time zone, once; removing it while it runs tells ben, whom it covered, that he is
on call again, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import Page, PageKind
from tests.helpers import DatabaseFactory, eventually
from tests.notifier.conftest import SettingsFactory
from tests.notifier.live import LiveRouter, live_router
from tests.notifier.support import api_client, final_delivery, produce_pages
from tests.providers.slack import SlackServer
from tests.providers.smtp import SmtpServer

QUICK = {"shift_reminder_poll_seconds": 0.2, "overrides_poll_seconds": 0.2}


def _ownership(unique: str, shift_start: datetime) -> dict[str, Any]:
    """ben on call for the 12 hours until anna's shift starts; cara has no turn (only overrides)."""
    ben_start = (shift_start - timedelta(hours=12)).replace(tzinfo=None)

    def person(name: str, zone: str, methods: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
        return {
            "id": f"{name}-{unique}",
            "name": name.title(),
            "time_zone": zone,
            "contact_methods": [{"id": f"{name}-{unique}-{k}", "type": k, "address": a} for k, a in methods],
            **extra,
        }

    slack_id = f"U{unique[:8].upper()}A"
    return {
        "users": [
            person("anna", "Europe/Berlin", [("email", f"anna-{unique}@example.test"), ("slack", slack_id)]),
            person("ben", "UTC", [("email", f"ben-{unique}@example.test")]),
            person("cara", "America/New_York", [("email", f"cara-{unique}@example.test")], shift_reminder_minutes=30),
        ],
        "schedules": [
            {
                "id": f"rota-{unique}",
                "name": f"Rota {unique}",
                "time_zone": "UTC",
                "layers": [
                    {
                        "id": "halves",
                        "participants": [f"ben-{unique}", f"anna-{unique}"],
                        "start": ben_start.isoformat(),
                        "turn": {"hours": 12},
                    }
                ],
            }
        ],
    }


def _reminders(router: LiveRouter, user: str) -> list[Page]:
    found = (Page.model_validate_json(v) for v in router.pages.values)
    return [p for p in found if p.kind is PageKind.SHIFT_REMINDER and p.user_id == user]


async def _reminded(router: LiveRouter, user: str) -> list[Page] | None:
    return _reminders(router, user) or None


async def _pass_after(router: LiveRouter, instant: datetime) -> None:
    """Until the router's reminder pass has looked at ``instant`` (its clock) or later."""

    async def looked() -> bool:
        checked = router.runtime.state.reminders_checked_at
        return checked is not None and checked >= instant

    await eventually(looked, timeout=20, what="a shift-reminder pass")


@pytest.fixture
def smtp() -> Any:
    with SmtpServer() as server:
        yield server


async def test_a_reminder_before_the_shift_once_across_a_restart_and_at_once_for_an_override(
    make_settings: SettingsFactory,
    slack: SlackServer,
    smtp: SmtpServer,
    kafka_bootstrap: str,
    databases: DatabaseFactory,
    tmp_path: Path,
    unique: str,
) -> None:
    clock = OffsetClock()
    # start half a second before a minute turns: set-up then crosses it, the case that once failed this test
    now = clock.now()
    clock.advance(now.replace(second=59, microsecond=500_000) - now)
    database = databases.create()
    config_dir = tmp_path / "ownership"
    anna, ben, cara, rota = f"anna-{unique}", f"ben-{unique}", f"cara-{unique}", f"rota-{unique}"
    # on the minute, 0-60 s after now + 3 h: the checks below hold wherever in a minute the test starts
    shift_start = (clock.now() + timedelta(hours=3)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    settings = make_settings(slack_api_url=f"{slack.url}/api", smtp_host="127.0.0.1", smtp_port=smtp.port)
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        async with live_router(kafka_bootstrap, database, config_dir, clock, **QUICK) as router:
            document = _ownership(unique, shift_start)
            (config_dir / f"{unique}.yaml").write_text(yaml.safe_dump(document))
            reloaded = await router.api.post("/v1/config/reload")
            assert reloaded.status_code == 200, reloaded.text
            await _pass_after(router, clock.now())
            assert _reminders(router, anna) == []  # three hours ahead: not yet (ben's shift began long ago)

            clock.advance(timedelta(hours=1, minutes=59))
            await _pass_after(router, clock.now())
            assert _reminders(router, anna) == []  # one to two minutes before the lead time

            clock.advance(timedelta(minutes=2))
            (reminder,) = await eventually(lambda: _reminded(router, anna), what="anna's reminder")
            assert reminder.contact_method.type.value == "slack"  # chat before email
            assert reminder.shift is not None and reminder.shift.starts_at == shift_start
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [reminder])
            delivered = await final_delivery(client, reminder.page_id)
            assert delivered["status"] == "sent"

        # two new router processes (same database, same clock): the claim is remembered, nothing is sent again
        async with (
            live_router(kafka_bootstrap, database, config_dir, clock, **QUICK) as router,
            live_router(kafka_bootstrap, database, config_dir, clock, **QUICK) as other,
        ):
            # anna now prefers email: a different page, but the same shift, so no second reminder
            document["users"][0]["shift_reminder_contact_method"] = f"{anna}-email"
            (config_dir / f"{unique}.yaml").write_text(yaml.safe_dump(document))
            reloaded = await router.api.post("/v1/config/reload")
            assert reloaded.status_code == 200, reloaded.text
            await _pass_after(router, clock.now())
            # the new reader has read the topic up to anna's reminder, and sees it once
            records = await eventually(lambda: _reminded(router, anna), what="the pages topic read again")
            assert [p.page_id for p in records] == [reminder.page_id]

            start = clock.now() + timedelta(minutes=10)
            body = {"user": cara, "start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}
            created = await router.api.post(f"/v1/schedules/{rota}/overrides", json=body)
            assert created.status_code == 201, created.text
            (told,) = await eventually(lambda: _reminded(router, cara), what="cara's override reminder")
            assert told.shift is not None and told.shift.override and told.contact_method.type.value == "email"
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [told])
            (mail,) = await smtp.wait_for(1, timeout=20)

            # the other process sees the override too, and its passes find cara's reminder already claimed
            async def other_knows() -> bool:
                return bool(other.runtime.state.configs.current.config.schedules_by_id[rota].overrides)

            await eventually(other_knows, what="the override in the other router")
            await _pass_after(other, clock.now())
            assert [p.page_id for p in _reminders(router, cara)] == [told.page_id]
            assert [p.page_id for p in _reminders(router, anna)] == [reminder.page_id]  # still once

            # cara's cover is removed while it runs: ben, whom it covered, is on call again and told at once, once
            clock.advance(timedelta(minutes=15))
            removed = await router.api.delete(f"/v1/schedules/{rota}/overrides/{created.json()['id']}")
            assert removed.status_code == 200, removed.text
            removed_at = datetime.fromisoformat(removed.json()["deleted_at"])

            async def ben_back() -> list[Page] | None:
                found = [p for p in _reminders(router, ben) if p.shift and p.shift.starts_at == removed_at]
                return found or None

            (back,) = await eventually(ben_back, what="ben told he is on call again")
            assert back.summary.startswith(f"An override for Rota {unique} was removed: you are on call again from ")
            assert back.shift is not None and back.shift.ends_at == shift_start  # until anna's turn
            assert back.contact_method.type.value == "email"
            await _pass_after(other, clock.now())
            await _pass_after(router, clock.now())
            assert await ben_back() == [back]

    (message,) = [m for m in slack.messages if m.get("channel") == f"U{unique[:8].upper()}A"]
    berlin = shift_start.astimezone(ZoneInfo("Europe/Berlin"))
    said = f"{berlin:%a} {berlin.day} {berlin:%b %Y %H:%M} {berlin.tzname()}"
    assert message["blocks"][0]["text"]["text"] == f":calendar: ON CALL: Rota {unique}"
    assert f"Your on-call shift for Rota {unique} starts {said}" in message["text"]
    assert "(Europe/Berlin)" in message["text"]
    assert not [b for b in message["blocks"] if b["type"] == "actions"]  # nothing to acknowledge

    assert mail["To"] == f"cara-{unique}@example.test"
    assert mail["Subject"].startswith(f"[ON CALL] An override puts you on call for Rota {unique} from ")
    new_york = start.astimezone(ZoneInfo("America/New_York"))
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{new_york:%H:%M} {new_york.tzname()}" in text and "(America/New_York)" in text
