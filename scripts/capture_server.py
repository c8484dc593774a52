"""The dev stack's capture server: receives every outgoing webhook notification, SMS and call, and prints it.

POST anything to http://127.0.0.1:18090/<path>; GET /captured lists what arrived (JSON), newest last.

With ``--twilio-account SID --twilio-token TOKEN`` it also stands in for Twilio's REST API at the same address
(the notifier's ``NOTIFIER_TWILIO_BASE_URL``): the account check, ``Messages.json`` and ``Calls.json`` with the
account's basic credentials, answered as Twilio answers (201 and a sid). Each accepted message or call then gets
its final status callback, signed with the token as Twilio signs them: ``delivered`` for an SMS, ``completed``
(answered) for a call. With ``--notifier-url`` it also plays a person's SMS reply: ``POST /twilio/reply`` with the
form fields ``From`` (the person's number) and ``Body`` (``1``, ``4 ab12cd34``...) posts Twilio's signed inbound
message to the notifier and answers with the notifier's reply text. And, with the Twilio account alone,
``POST /twilio/press`` with ``Digits`` (``1`` acknowledges, ``2`` escalates) and ``To`` (the called number) or
``CallSid`` plays a key press during the latest such call: Twilio's signed Gather request to the action URL of the
call's TwiML, answered with what the call then says. ``POST /twilio/outcome`` with ``To`` and ``CallStatus``
(``busy``, ``no-answer``, ``failed``...) or ``MessageStatus`` (``undelivered``, ``failed``) makes the later calls or
messages to that number end that way (``completed`` or ``delivered`` puts it back), so a page nobody answers, and
its escalation, can be played.

Standard library only, so it runs before the workspace is installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

CAPTURED: list[dict[str, Any]] = []
LOCK = threading.Lock()
TWILIO_RESOURCE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)(?:/(?P<resource>Messages|Calls))?\.json$")
# Per resource: the sid prefix, the channel, and the fields of the final status callback Twilio posts.
RESOURCES = {
    "Messages": ("SM", "sms", {"MessageStatus": "delivered", "SmsStatus": "delivered"}, ("MessageSid", "SmsSid")),
    "Calls": ("CA", "voice", {"CallStatus": "completed"}, ("CallSid",)),
}
# Twilio's final statuses a number can be given, and the fields of the status callback for each.
FINAL_STATUSES = {
    "voice": {s: {"CallStatus": s} for s in ("completed", "busy", "no-answer", "failed", "canceled")},
    "sms": {
        "delivered": {"MessageStatus": "delivered", "SmsStatus": "delivered"},
        **{s: {"MessageStatus": s, "SmsStatus": s, "ErrorCode": "30003"} for s in ("undelivered", "failed")},
    },
}
OUTCOMES: dict[tuple[str, str], dict[str, str]] = {}  # (number, channel) -> the callback's fields, set by a person


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 of the URL and the sorted form fields, base64."""
    data = url + "".join(name + value for name, value in sorted(params.items()))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


INBOUND_PATH = "/v1/twilio/sms/inbound"  # the notifier's, where Twilio posts the messages people send


class Handler(BaseHTTPRequestHandler):
    twilio_account = ""
    twilio_token = ""
    twilio_number = ""
    notifier_url = ""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        twilio = TWILIO_RESOURCE.match(self.path)
        if twilio and self.twilio_account and twilio["resource"]:
            self._twilio_create(twilio["sid"], twilio["resource"], dict(parse_qsl(raw.decode("utf-8", "replace"))))
            return
        if self.path.rstrip("/") == "/twilio/reply" and self.notifier_url:
            self._sms_reply(dict(parse_qsl(raw.decode("utf-8", "replace"))))
            return
        if self.path.rstrip("/") == "/twilio/press" and self.twilio_account:
            self._key_press(dict(parse_qsl(raw.decode("utf-8", "replace"))))
            return
        if self.path.rstrip("/") == "/twilio/outcome" and self.twilio_account:
            self._set_outcome(dict(parse_qsl(raw.decode("utf-8", "replace"))))
            return
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._capture({"path": self.path, "headers": dict(self.headers), "body": body})
        summary = body.get("summary") if isinstance(body, dict) else None
        print(f"[capture] POST {self.path} {summary or ''}", flush=True)
        self._reply(200, {"ok": True})

    def do_GET(self) -> None:
        twilio = TWILIO_RESOURCE.match(self.path)
        if self.path.rstrip("/") == "/captured":
            with LOCK:
                self._reply(200, CAPTURED)
        elif twilio and self.twilio_account and not twilio["resource"] and self._authorised(twilio["sid"]):
            self._reply(200, {"sid": twilio["sid"], "status": "active", "friendly_name": "make dev"})
        else:
            self._reply(404, {"error": "GET /captured lists what arrived"})

    def _authorised(self, account: str) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.twilio_account}:{self.twilio_token}".encode()).decode()
        if account == self.twilio_account and hmac.compare_digest(self.headers.get("authorization", ""), expected):
            return True
        self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        return False

    def _twilio_create(self, account: str, resource: str, form: dict[str, str]) -> None:
        if not self._authorised(account):
            return
        prefix, channel, final, sid_fields = RESOURCES[resource]
        sid = prefix + uuid.uuid4().hex
        text = form.get("Body") if channel == "sms" else form.get("Twiml")
        self._capture({"path": self.path, "channel": channel, "sid": sid, "to": form.get("To"), "body": text})
        print(f"[capture] {channel} to {form.get('To')}: {(text or '')[:120]}", flush=True)
        self._reply(201, {"sid": sid, "account_sid": account, "to": form.get("To"), "status": "queued"})
        if callback := form.get("StatusCallback"):
            final = OUTCOMES.get((form.get("To", ""), channel), final)
            fields = {"AccountSid": account, "To": form.get("To", ""), **final, **dict.fromkeys(sid_fields, sid)}
            threading.Thread(target=_post_callback, args=(callback, fields, self.twilio_token), daemon=True).start()

    def _sms_reply(self, form: dict[str, str]) -> None:
        """A person's reply, as Twilio would post it to the notifier; the notifier's answer (TwiML) goes back to
        them, so it is captured as an SMS to the sender."""
        sender, body = form.get("From", ""), form.get("Body", "")
        if not sender:
            self._reply(400, {"error": "give From (the person's number) and Body (their reply)"})
            return
        sid = "SM" + uuid.uuid4().hex
        fields = {"AccountSid": self.twilio_account, "MessageSid": sid, "SmsSid": sid, "From": sender}
        fields |= {"To": self.twilio_number, "Body": body, "NumMedia": "0"}
        answered = self._to_notifier(self.notifier_url.rstrip("/") + INBOUND_PATH, fields)
        if answered is None:
            return
        status, answer = answered
        text = ET.fromstring(answer).findtext("Message") if status == 200 and answer.strip() else None
        if text:
            self._capture({"path": self.path, "channel": "sms", "sid": None, "to": sender, "body": text})
        print(f"[capture] reply {body!r} from {sender}: {status} {text or ''}", flush=True)
        self._reply(200 if status == 200 else 502, {"status": status, "answer": text})

    def _key_press(self, form: dict[str, str]) -> None:
        """A key pressed during a page call, posted where the call's TwiML gathers it, as Twilio would."""
        if not form.get("Digits"):
            self._reply(400, {"error": "give Digits (the key pressed) and the To or CallSid of the call"})
            return
        call = _latest_call(form.get("CallSid"), form.get("To"))
        if call is None:
            self._reply(404, {"error": "no such call: GET /captured lists the calls placed"})
            return
        gather = ET.fromstring(call["body"] or "<Response/>").find(".//Gather")
        if gather is None or not gather.get("action"):
            self._reply(409, {"error": "that call's TwiML gathers no key press"})
            return
        fields = {"AccountSid": self.twilio_account, "CallSid": call["sid"], "From": self.twilio_number}
        fields |= {"To": call["to"], "Digits": form["Digits"], "CallStatus": "in-progress"}
        fields |= {"Direction": "outbound-api", "FinishedOnKey": ""}
        answered = self._to_notifier(gather.get("action", ""), fields)
        if answered is None:
            return
        status, answer = answered
        said = " ".join(e.text or "" for e in ET.fromstring(answer).iter("Say")) if status == 200 else None
        print(f"[capture] key {form['Digits']!r} on call to {call['to']}: {status} {said or ''}", flush=True)
        self._reply(200 if status == 200 else 502, {"status": status, "answer": said})

    def _set_outcome(self, form: dict[str, str]) -> None:
        """How the later calls or messages to a number end, as their status callbacks will say."""
        number = form.get("To", "")
        asked = {"voice": form.get("CallStatus"), "sms": form.get("MessageStatus")}
        unknown = {c: s for c, s in asked.items() if s is not None and s not in FINAL_STATUSES[c]}
        if not number or not any(asked.values()) or unknown:
            choices = {c: sorted(statuses) for c, statuses in FINAL_STATUSES.items()}
            self._reply(400, {"error": "give To, and CallStatus or MessageStatus", "choices": choices})
            return
        for channel, status in asked.items():
            if status:
                OUTCOMES[(number, channel)] = FINAL_STATUSES[channel][status]
        print(f"[capture] calls and messages to {number} now end: {asked}", flush=True)
        self._reply(200, {"to": number, "calls": asked["voice"], "messages": asked["sms"]})

    def _to_notifier(self, url: str, fields: dict[str, str]) -> tuple[int, str] | None:
        """The notifier's answer to a signed form, or None once the caller was answered 502 (no answer)."""
        try:
            return _post_signed(url, fields, self.twilio_token)
        except OSError as exc:
            self._reply(502, {"error": f"the notifier did not answer: {exc}"})
            return None

    def _capture(self, entry: dict[str, Any]) -> None:
        with LOCK:
            CAPTURED.append(entry)

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, indent=1).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _latest_call(sid: str | None, to: str | None) -> dict[str, Any] | None:
    """The latest call placed with this sid, or to this number (either may be left out)."""
    with LOCK:
        calls = [e for e in CAPTURED if e.get("channel") == "voice" and e.get("sid")]
    matching = [c for c in calls if (not sid or c["sid"] == sid) and (not to or c["to"] == to)]
    return matching[-1] if matching else None


def _post_signed(url: str, fields: dict[str, str], token: str) -> tuple[int, str]:
    """A form posted as Twilio posts it, with its X-Twilio-Signature; the answer's status and body."""
    request = urllib.request.Request(url, data=urlencode(fields).encode(), method="POST")
    request.add_header("content-type", "application/x-www-form-urlencoded")
    request.add_header("X-Twilio-Signature", twilio_signature(token, url, fields))
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def _post_callback(url: str, fields: dict[str, str], token: str) -> None:
    """The final status, as Twilio posts it once the handset or the call is done (one try, as Twilio does)."""
    try:
        status, _ = _post_signed(url, fields, token)
        print(f"[capture] status callback {fields} -> {status}", flush=True)
    except OSError as exc:
        print(f"[capture] status callback to {url} failed: {exc}", flush=True)


def make_server(port: int, **twilio: str) -> ThreadingHTTPServer:
    """``twilio``: twilio_account, twilio_token, twilio_number, notifier_url (the Handler's attributes)."""
    handler = type("ConfiguredHandler", (Handler,), twilio)
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve(port: int) -> ThreadingHTTPServer:
    """In a thread of the caller's process (the tests' webhook receiver)."""
    server = make_server(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, nargs="?", default=18090)
    parser.add_argument("--twilio-account", default="", help="stand in for this Twilio account (its SID)")
    parser.add_argument("--twilio-token", default="", help="the account's auth token: basic auth and signatures")
    parser.add_argument("--twilio-number", default="", help="the number pages come from (To of a reply)")
    parser.add_argument("--notifier-url", default="", help="where replies are posted (NOTIFIER_PUBLIC_URL)")
    args = parser.parse_args()
    server = make_server(
        args.port,
        twilio_account=args.twilio_account,
        twilio_token=args.twilio_token,
        twilio_number=args.twilio_number,
        notifier_url=args.notifier_url,
    )
    twilio = f"; Twilio stand-in for {args.twilio_account}" if args.twilio_account else ""
    print(f"capture server on http://127.0.0.1:{args.port} (GET /captured){twilio}", flush=True)
    server.serve_forever()
