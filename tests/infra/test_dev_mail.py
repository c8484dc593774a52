"""`make dev`'s mail sink: the notifier's SMTP settings of the dev stack reach it, and a message sent there lands in
its Maildir. Before it, e-mail pages of the example configuration were retried against 127.0.0.1:587 (nothing
listens there) until they expired."""

from __future__ import annotations

import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from alertrouter_notifier.channels.email import SmtpProvider
from alertrouter_notifier.settings import NotifierSettings
from tests.helpers import eventually, free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import dev  # noqa: E402


async def test_the_dev_notifier_mails_into_the_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port, folder = free_port(), tmp_path / "mail"
    sink = subprocess.Popen(dev.mail_sink_command(port, folder), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        environment = dev.dev_env("127.0.0.1:9", "postgresql+asyncpg://dev@127.0.0.1:9/dev")
        for name, value in environment.items():
            if name.startswith("NOTIFIER_SMTP_"):
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("NOTIFIER_SMTP_PORT", str(port))
        settings = NotifierSettings()
        provider = SmtpProvider(settings)

        async def answered() -> str | None:
            try:
                return await provider.check()
            except Exception:  # not listening yet
                return None

        assert "answered EHLO" in await eventually(answered, what="the mail sink answering")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = settings.smtp_from, "anna@example.com", "a dev page"
        message.set_content("checkout is down")
        await aiosmtplib.send(message, hostname=settings.smtp_host, port=settings.smtp_port)

        async def delivered() -> list[Path] | None:
            found = list((folder / "new").glob("*")) if (folder / "new").is_dir() else []
            return found or None

        [mail] = await eventually(delivered, what="the message in the Maildir")
        assert "Subject: a dev page" in mail.read_text()
    finally:
        sink.terminate()
        sink.wait(timeout=10)
