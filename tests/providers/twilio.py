"""A local Twilio: the Messages and Calls REST resources, and the requests Twilio makes back to the notifier.

The REST side validates what Twilio validates (basic auth, E.164 numbers, a sender, a body or well-formed TwiML)
and answers with Twilio's documented bodies (tests/fixtures/twilio). The callback side plays what Twilio sends
(call status, key presses on a <Gather>, an incoming SMS), signed with X-Twilio-Signature over the exact URL it
posts to, over a real socket -- so the notifier under test must listen on the URL it told Twilio about.
Callback methods block (urllib); async tests call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from tests.providers.base import ProviderServer, Received, Reply, load_fixture

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TWIML_LIMIT = 4000
TWIML_VERBS = frozenset({"Say", "Gather", "Pause", "Hangup", "Redirect", "Play", "Reject", "Dial", "Record"})


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it: URL + sorted name/value pairs, HMAC-SHA1, Base64."""
    data = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_body(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def twiml_problem(document: str) -> str | None:
    """Why Twilio would refuse this TwiML (12100 document parse failure, unknown verb), or None."""
    if len(document) > TWIML_LIMIT:
        return f"Twiml is longer than {TWIML_LIMIT} characters"
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        return f"Document parse failure: {exc}"
    if root.tag != "Response":
        return "the root element must be <Response>"
    for element in root.iter():
        if element is not root and element.tag not in TWIML_VERBS:
            return f"<{element.tag}> is not a TwiML verb"
    return None


@dataclass
class CallbackReply:
    status: int
    body: str
    content_type: str


def _form(fixture: str, **values: str) -> dict[str, str]:
    fields: dict[str, str] = load_fixture(f"twilio/{fixture}")
    fields.pop("_comment", None)
    fields.update(values)
    return fields


class TwilioServer(ProviderServer):
    """``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` and ``.../Calls.json``, ``GET
    /2010-04-01/Accounts/{AccountSid}.json`` (fetch the account: a credentials check), plus Twilio's callbacks."""

    name = "twilio"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_sid: str = "ACf0e1d2c3b4a5968778695a4b3c2d1e0f",
        auth_token: str = "twilio-test-token",
        opted_out: set[str] | None = None,
        api_keys: dict[str, str] | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(host, port, verbose=verbose)
        self.account_sid = account_sid
        self.auth_token = auth_token  # what callbacks are signed with, always
        self.api_keys = api_keys or {}  # SK... sid -> its secret, accepted for the API's basic auth
        self.opted_out = opted_out or set()
        self.account_status = "active"  # or "suspended", "closed"
        self.messages: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        # seconds the answer to each of the next calls created is held back (the call is created at once, as Twilio
        # does, and rings): longer than the client's timeout, the caller never learns the call exists
        self.late_call_answers: list[float] = []

    # REST API ------------------------------------------------------------------------------------------
    def respond(self, request: Received) -> Reply:
        account = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)\.json", request.path)
        if request.method == "GET" and account:
            return self._fetch_account(request, account.group(1))
        match = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/(Messages|Calls)\.json", request.path)
        if request.method != "POST" or not match:
            return Reply(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        if not self._authorised(request, match.group(1)):
            return Reply.twilio_error(20003)
        if not request.header("Content-Type").startswith("application/x-www-form-urlencoded"):
            return Reply(400, twilio_body(21602, "Message body is required.", 400))
        form = request.form()
        to = form.get("To", "")
        if not E164.match(to):
            return Reply(400, twilio_body(21211, f"The 'To' number {to} is not a valid phone number.", 400))
        if to in self.opted_out:
            return Reply.twilio_error(21610)
        return self._create_message(form) if match.group(2) == "Messages" else self._create_call(form)

    def _fetch_account(self, request: Received, sid: str) -> Reply:
        """Fetch an account: what a credentials check does (404 for another account, as Twilio answers)."""
        if not self._authorised(request, self.account_sid):
            return Reply.twilio_error(20003)
        if sid != self.account_sid:
            return Reply(404, twilio_body(20404, "The requested resource was not found", 404))
        body: dict[str, Any] = load_fixture("twilio/account.json")
        body.pop("_comment")
        body.update(sid=sid, owner_account_sid=sid, status=self.account_status, uri=f"/2010-04-01/Accounts/{sid}.json")
        body["subresource_uris"] = {
            k: v.replace("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", sid) for k, v in body["subresource_uris"].items()
        }
        return Reply(200, body)

    def _create_message(self, form: dict[str, str]) -> Reply:
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return Reply(400, twilio_body(21603, "A 'From' phone number is required.", 400))
        if not form.get("Body") or len(form["Body"]) > 1600:
            return Reply(
                400, twilio_body(21617, "The concatenated message body exceeds the 1600 character limit.", 400)
            )
        return Reply(201, self._message_created(form))

    def _create_call(self, form: dict[str, str]) -> Reply:
        if not form.get("From"):
            return Reply(400, twilio_body(21213, "No 'From' number is specified.", 400))
        if not (form.get("Url") or form.get("Twiml")):
            return Reply(400, twilio_body(21205, "Url parameter is required.", 400))
        problem = twiml_problem(form.get("Twiml", "<Response/>"))
        if problem:
            return Reply(400, twilio_body(12100, problem, 400))
        sid = "CA" + uuid.uuid4().hex
        now = formatdate(usegmt=False).replace("-0000", "+0000")
        body: dict[str, Any] = load_fixture("twilio/call-created.json")
        body.pop("_comment")
        body.update(sid=sid, account_sid=self.account_sid, to=form["To"], date_created=now, date_updated=now)
        body["from"] = form["From"]
        body["uri"] = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"
        with self._lock:
            self.calls.append({**form, "sid": sid})
            late = self.late_call_answers.pop(0) if self.late_call_answers else 0.0
        return Reply(201, body, delay=late)

    def _authorised(self, request: Received, path_sid: str) -> bool:
        scheme, _, encoded = request.header("Authorization").partition(" ")
        if scheme.lower() != "basic" or path_sid != self.account_sid:
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        if user in self.api_keys:  # an API key (SK...) with its own secret
            return hmac.compare_digest(password, self.api_keys[user])
        return user == self.account_sid and hmac.compare_digest(password, self.auth_token)

    def _message_created(self, form: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = load_fixture("twilio/message-created.json")
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=False).replace("-0000", "+0000")
        body.update(
            sid=sid,
            account_sid=self.account_sid,
            to=form["To"],
            body=form["Body"],
            date_created=now,
            date_updated=now,
            uri=f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            num_segments=str(max(1, -(-len(form["Body"]) // 153))),
            messaging_service_sid=form.get("MessagingServiceSid"),
            status="accepted" if form.get("MessagingServiceSid") else "queued",
        )
        body["from"] = form.get("From")
        body["subresource_uris"] = {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"}
        with self._lock:
            self.messages.append({**form, "sid": sid})
        return body

    # Callbacks Twilio makes ----------------------------------------------------------------------------
    def call(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return next(c for c in self.calls if c["sid"] == sid)

    def signed_post(self, url: str, fields: dict[str, str], *, signature: str | None = None) -> CallbackReply:
        """POST ``fields`` to ``url`` as Twilio does (form-encoded, signed over the exact URL)."""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Twilio-Signature": signature
            if signature is not None
            else twilio_signature(self.auth_token, url, fields),
            "User-Agent": "TwilioProxy/1.1",
        }
        request = urllib.request.Request(url, data=urlencode(fields).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return CallbackReply(response.status, response.read().decode(), response.headers["Content-Type"] or "")
        except urllib.error.HTTPError as exc:
            return CallbackReply(exc.code, exc.read().decode(), exc.headers["Content-Type"] or "")

    def end_call(self, sid: str, status: str, *, duration: int = 0, answered_by: str = "") -> CallbackReply:
        """The call's final status callback: completed, busy, no-answer, failed or canceled; with machine detection
        on (``MachineDetection`` in the call request) a completed call says who answered (``answered_by``)."""
        call = self.call(sid)
        fields = _form(
            "call-status-callback.form.json",
            AccountSid=self.account_sid,
            CallSid=sid,
            CallStatus=status,
            To=call["To"],
            Called=call["To"],
            From=call["From"],
            Caller=call["From"],
            CallDuration=str(duration),
            Duration=str(max(1, duration // 60)) if duration else "0",
        )
        if status == "completed":
            fields.pop("SipResponseCode")
        if call.get("MachineDetection") and status == "completed":
            fields["AnsweredBy"] = answered_by or "human"
        return self.signed_post(call["StatusCallback"], fields)

    def press(self, sid: str, digits: str, twiml: str | None = None) -> CallbackReply:
        """The callee presses ``digits`` during the <Gather> of ``twiml`` (the call's own script by default)."""
        call = self.call(sid)
        root = ET.fromstring(twiml if twiml is not None else call["Twiml"])
        gather = root.find("Gather")
        if gather is None or not gather.get("action"):
            raise AssertionError(f"the TwiML has no <Gather> with an action: {twiml or call['Twiml']}")
        fields = _form(
            "gather-digits.form.json",
            AccountSid=self.account_sid,
            CallSid=sid,
            Digits=digits,
            To=call["To"],
            Called=call["To"],
            From=call["From"],
            Caller=call["From"],
        )
        return self.signed_post(str(gather.get("action")), fields)

    def incoming_sms(
        self, url: str, sender: str, body: str, to: str = "+12015550123", *, sid: str | None = None
    ) -> CallbackReply:
        """Someone texts ``body`` from ``sender`` to our number, whose incoming-message webhook is ``url``. The same
        ``sid`` again is the same message posted again (a retry, or a captured request replayed)."""
        sid = sid or "SM" + uuid.uuid4().hex
        fields = _form(
            "inbound-sms.form.json",
            AccountSid=self.account_sid,
            Body=body,
            From=sender,
            To=to,
            MessageSid=sid,
            SmsSid=sid,
            SmsMessageSid=sid,
        )
        return self.signed_post(url, fields)
