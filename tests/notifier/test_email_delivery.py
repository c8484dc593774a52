"""Email through a real SMTP server (aiosmtpd) with STARTTLS and AUTH; the received mail is parsed and checked."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from alertrouter_notifier.rendering.email import thread_root_id
from alertrouter_notifier.runtime import Notifier
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.events import ContactMethodType, Page, PageKind
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, final_delivery, produce_pages
from tests.providers.smtp import SmtpServer, fixture_reply


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path]]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with SmtpServer(tls_context=server_context, username="mailer", password="s3cret") as server:
        yield server, ca_file


async def test_incident_mail_over_starttls_with_auth_threads_and_links(
    tls_smtp: tuple[SmtpServer, Path], make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    server, ca_file = tls_smtp
    settings = make_settings(
        smtp_port=server.port,
        smtp_security="starttls",
        smtp_username="mailer",
        smtp_password="s3cret",
        smtp_ca_file=str(ca_file),
        smtp_from="pager@alerts.example.test",
    )
    trigger = make_page(ContactMethodType.EMAIL, f"alice+{unique}@example.test")
    resolved = make_page(ContactMethodType.EMAIL, f"alice+{unique}@example.test", kind=PageKind.RESOLVED)
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        # the resolve after the trigger's mail: admitted with it, the waiting trigger would be cancelled, unsent
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [trigger])
        await server.wait_for(1)
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [resolved])
        received = {m["X-Alertrouter-Page"]: m for m in await server.wait_for(2)}
        first, second = received[trigger.page_id], received[resolved.page_id]
        delivery = await final_delivery(client, trigger.page_id)

    assert all(envelope["tls"] and envelope["auth"] for envelope in server.envelopes)
    assert first["To"] == f"alice+{unique}@example.test"
    assert "pager@alerts.example.test" in first["From"]
    assert first["Date"]
    assert first["Subject"].startswith("[CRITICAL] checkout: 5xx ratio is 7.3%")
    assert second["Subject"].startswith("[RESOLVED] checkout:")
    root = thread_root_id(trigger.incident_id, "alerts.example.test")
    assert first["References"] == second["References"] == root
    assert first["In-Reply-To"] == root
    assert first["Message-ID"] != second["Message-ID"]
    assert delivery["provider_message_id"] == first["Message-ID"]
    assert delivery["provider_status_code"] == "250"

    text = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = first.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert "http://notifier.test/acknowledge/" in part
        assert "http://notifier.test/resolve/" in part
        assert "https://runbooks.example.com/checkout/high-error-rate" in part
        assert "Label env" in part
        assert "s3cr3t-value" not in part
    resolved_text = second.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "/acknowledge/" not in resolved_text


async def test_auth_failure_is_permanent(
    tls_smtp: tuple[SmtpServer, Path], make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    server, ca_file = tls_smtp
    settings = make_settings(
        smtp_port=server.port,
        smtp_security="starttls",
        smtp_username="mailer",
        smtp_password="wrong",
        smtp_ca_file=str(ca_file),
    )
    page = make_page(ContactMethodType.EMAIL, f"alice+{unique}@example.test")
    delivery = await _final_delivery(settings, page)
    assert delivery["status"] == "failed"
    assert delivery["attempts"][0]["provider_status_code"] == "535"
    assert server.messages == []


async def test_unverifiable_certificate_is_not_trusted(
    tls_smtp: tuple[SmtpServer, Path], make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    server, _ = tls_smtp
    settings = make_settings(
        smtp_port=server.port, smtp_security="starttls", smtp_timeout_seconds=5, retry_deadline_seconds=1.5
    )
    page = make_page(ContactMethodType.EMAIL, f"alice+{unique}@example.test")
    delivery = await _final_delivery(settings, page)
    assert delivery["status"] == "failed"
    first_error = delivery["attempts"][0]["error"].lower()
    assert "certificate" in first_error or "ssl" in first_error
    assert server.messages == []


async def _final_delivery(settings: NotifierSettings, page: Page) -> dict[str, Any]:
    """The page sent by a notifier of its own, and its delivery once final."""
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        return await final_delivery(client, page.page_id)


async def test_an_email_page_fails_at_once_when_no_smtp_server_was_set(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    """With no ``NOTIFIER_SMTP_HOST`` the notifier sent to 127.0.0.1:587, where a container has no mail server:
    each page was retried as a connection failure until the retry deadline (600 s by default), so the level's
    escalation waited ten minutes for a person nobody could reach. E-mail is "not configured" now: the page fails
    at once and the router escalates."""
    unset = NotifierSettings.model_fields["smtp_host"].default
    settings = make_settings(smtp_host=unset, retry_deadline_seconds=600)
    delivery = await _final_delivery(settings, make_page(ContactMethodType.EMAIL, f"a+{unique}@example.test"))
    assert delivery["status"] == "failed"
    assert delivery["attempts"][-1]["error"] == "channel 'email' is not configured"


def test_fixture_replies_cover_both_classes() -> None:
    assert fixture_reply("451").startswith("451 4.7.1")
    assert fixture_reply("550").startswith("550 5.1.1")


@pytest.mark.parametrize(
    ("configured", "missing"),
    [({"smtp_security": "starttls"}, "STARTTLS"), ({"smtp_username": "mailer", "smtp_password": "x"}, "AUTH")],
    ids=["starttls", "auth"],
)
async def test_a_server_without_the_configured_starttls_or_auth_fails_at_once(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str, configured: dict[str, str], missing: str
) -> None:
    """A missing extension counted as transient (aiosmtplib raises a plain SMTPException for it): retried until the
    deadline (minutes) while the escalation waited, though no retry can change the server's extensions. The provider
    now checks the server's EHLO before each step."""
    with SmtpServer() as server:  # plain: neither STARTTLS nor AUTH offered
        settings = make_settings(smtp_port=server.port, retry_deadline_seconds=600, **configured)
        page = make_page(ContactMethodType.EMAIL, f"alice+{unique}@example.test")
        delivery = await _final_delivery(settings, page)
    assert delivery["status"] == "failed"
    assert [a["provider_status_code"] for a in delivery["attempts"]] == ["unsupported"]
    assert missing in delivery["attempts"][0]["error"]
    assert server.messages == []


async def test_a_server_that_knows_only_helo_gets_the_page_and_cannot_offer_starttls(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    """The provider greets with EHLO itself (to see what the server offers): a server that answers it 502 is
    greeted with HELO, as aiosmtplib's own send does, and takes plain mail; STARTTLS asked of it is unsupported."""
    with SmtpServer(helo_only=True) as server:
        plain = await _final_delivery(
            make_settings(smtp_port=server.port), make_page(ContactMethodType.EMAIL, f"a+{unique}@example.test")
        )
        assert plain["status"] == "sent", plain
        assert len(server.messages) == 1
        secured = make_settings(smtp_port=server.port, smtp_security="starttls", retry_deadline_seconds=600)
        refused = await _final_delivery(secured, make_page(ContactMethodType.EMAIL, f"b+{unique}@example.test"))
    assert [a["provider_status_code"] for a in refused["attempts"]] == ["unsupported"]
    assert len(server.messages) == 1


async def test_a_quit_refused_after_the_message_was_accepted_sends_it_once(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    """DATA answered 250 means the server took the message; a QUIT answered 421 (a server shutting down) counted as
    a transient failure and the page was mailed again at every retry."""
    with SmtpServer(quit_reply="421 4.3.0 Service shutting down") as server:
        page = make_page(ContactMethodType.EMAIL, f"alice+{unique}@example.test")
        delivery = await _final_delivery(make_settings(smtp_port=server.port), page)
    assert delivery["status"] == "sent" and len(delivery["attempts"]) == 1, delivery
    assert len(server.messages) == 1


async def test_a_page_to_several_addresses_is_refused_not_sent_to_some(
    make_settings: SettingsFactory, make_page: PageFactory, unique: str
) -> None:
    """From a router that did not check: sent to every address of the list, the page counted as delivered when any
    one accepted it. The configuration refuses such an address (test_ownership_loader); the notifier sends none."""
    with SmtpServer() as server:
        settings = make_settings(smtp_port=server.port, smtp_security="none", retry_deadline_seconds=600)
        page = make_page(ContactMethodType.EMAIL, f"alice+{unique}@example.test, bob@example.test")
        delivery = await _final_delivery(settings, page)
    assert delivery["status"] == "failed"
    assert [a["provider_status_code"] for a in delivery["attempts"]] == ["invalid_address"]
    assert server.messages == []
