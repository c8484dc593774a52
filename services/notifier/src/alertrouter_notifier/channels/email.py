"""Email over SMTP (aiosmtplib): STARTTLS or implicit TLS, optional AUTH, one recipient per message.

Reply policy (FORMATS §6): 4xx replies and connection trouble are transient; 5xx replies (including 535 auth
failure, a configuration error) and a server without the STARTTLS or AUTH configured are permanent for this
message. A pager gives up within minutes (the retry
deadline), not the days RFC 5321 suggests for ordinary mail.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator

import aiosmtplib

from alertrouter_notifier.channels.base import Outgoing, Receipt, SendPermanentError, SendTransientError
from alertrouter_notifier.rendering.email import build_email
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.mailbox import single_mailbox


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: NotifierSettings) -> None:
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._security = settings.smtp_security
        self._username = settings.smtp_username or None
        self._password = settings.smtp_password.get_secret_value() or None
        self._sender = settings.smtp_from
        self._domain = settings.smtp_from.rpartition("@")[2] or "alertrouter.local"
        self._timeout = settings.smtp_timeout_seconds
        self._tls_context = _tls_context(settings.smtp_ca_file, settings.smtp_validate_certs)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[aiosmtplib.SMTP]:
        """Connected, STARTTLS and AUTH done as configured; the same for a message and for the provider check.

        Each step is asked of the server only after its EHLO offered it: a server without the STARTTLS or AUTH
        configured fails as ``unsupported`` (permanent, no retry changes it), not as the plain SMTPException
        aiosmtplib raises for it, which only its message text told apart from connection trouble."""
        smtp = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._security == "tls",
            start_tls=False,
            tls_context=self._tls_context if self._security != "none" else None,
            timeout=self._timeout,
        )
        try:
            await smtp.connect()
            await _greet(smtp)
            if self._security == "starttls":
                _require(smtp, "starttls")
                await smtp.starttls(tls_context=self._tls_context)
                await _greet(smtp)  # what the server offers may change once the connection is encrypted
            if self._username is not None:
                _require(smtp, "auth")
                await smtp.login(self._username, self._password or "")
            yield smtp
            # Past DATA's 250 the message is accepted: a QUIT refused or cut off must not turn it into a failure
            # (it would be sent again). aiosmtplib's own send ignored these too.
            with contextlib.suppress(
                aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException, aiosmtplib.SMTPTimeoutError
            ):
                await smtp.quit()
        finally:
            smtp.close()

    async def send(self, outgoing: Outgoing) -> Receipt:
        mailbox = single_mailbox(outgoing.page.contact_method.address)
        if mailbox is None:
            raise SendPermanentError("smtp: the address names no single mailbox", status_code="invalid_address")
        message = build_email(
            outgoing.page, outgoing.links, delivery_id=outgoing.delivery_id, sender=self._sender, domain=self._domain
        )
        try:
            async with self._session() as smtp:
                await smtp.send_message(message, recipients=[mailbox])
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _classify([(r.code, r.message) for r in exc.recipients]) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify([(exc.code, exc.message)]) from exc
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. SMTPUTF8, which the message needs
            raise SendPermanentError(f"smtp: {exc}", status_code="unsupported") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise _unanswered(exc) from exc
        # aiosmtplib returns only the reply text; reaching here means the DATA stage was answered 250
        return Receipt(provider_message_id=message["Message-ID"], provider_status_code="250")

    async def check(self) -> str:
        """The server's own check, sending nothing: connect, EHLO, STARTTLS or TLS as configured, AUTH when a
        username is set, QUIT. Raises the send errors (a 535 refusal is permanent, a timeout transient)."""
        try:
            async with self._session():
                pass
        except aiosmtplib.SMTPResponseException as exc:
            raise _classify([(exc.code, exc.message)]) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise _unanswered(exc) from exc
        steps = ["EHLO", *(["STARTTLS"] if self._security == "starttls" else []), *(["AUTH"] if self._username else [])]
        return f"{self._host}:{self._port} answered {', '.join(steps)} (nothing sent)"

    async def aclose(self) -> None:
        """One connection per message: nothing pooled to close."""


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO to a server that does not know EHLO (as aiosmtplib's own send does): it offers no extension
    then, which is enough for plain SMTP without login."""
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        await smtp.helo()


def _require(smtp: aiosmtplib.SMTP, extension: str) -> None:
    if not smtp.supports_extension(extension):
        offer = f"smtp: the server does not offer {extension.upper()}, which the settings ask for"
        raise SendPermanentError(offer, status_code="unsupported")


def _unanswered(exc: BaseException) -> SendTransientError:
    """Failures without an SMTP reply are transient: connection trouble, a timeout."""
    return SendTransientError(f"smtp: {type(exc).__name__}: {exc}", status_code="connect")


def _classify(replies: list[tuple[int, str]]) -> SendTransientError | SendPermanentError:
    detail = "; ".join(f"{code} {message}" for code, message in replies)
    codes = [code for code, _ in replies]
    if codes and all(400 <= code < 500 for code in codes):
        return SendTransientError(f"smtp: {detail}", status_code=str(codes[0]))
    permanent = next((code for code in codes if code >= 500), codes[0] if codes else 0)
    return SendPermanentError(f"smtp: {detail}", status_code=str(permanent))


def _tls_context(ca_file: str, validate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or None)
    if not validate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
