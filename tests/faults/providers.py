"""Provider servers whose behaviour follows a timeline, and the count of what they accepted.

Why: the fault scenarios need a provider that answers 500 for 30 s, then 429 with Retry-After, then recovers, or a
webhook receiver that is slow while the notifier is killed. tests/providers/servers.py scripts replies one by one
(FIFO); these subclasses add timed phases on top of the same provider shapes, validation and recording.

Pages are counted where they land: a webhook body carries the page (page id, labels, send_at); an SMS carries
only its text, so the suite puts the alert's fault id in the summary and reads it back from the SMS body.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime

from tests.providers.servers import CaptureServer, ProviderServer, Received, Reply, TwilioServer

FAULT_ID = re.compile(r"\b([0-9a-f]{8}-\d{5})\b")
TWILIO_SID = "ACfa0175fa0175fa0175fa0175fa0175fa"
TWILIO_TOKEN = "faults-twilio-token"
WEBHOOK_SECRET = "faults-signing-secret"
SMS_TAGS = {"ACKED": "acknowledged", "RESOLVED": "resolved", "DIGEST": "digest"}  # anything else: a trigger


@dataclass(frozen=True)
class Phase:
    """For ``seconds``: answer ``status`` (with Retry-After when given), or answer normally after ``delay``."""

    seconds: float
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0


class Timeline:
    """Phases that start when set; after the last one the server behaves normally again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan: list[tuple[float, Phase]] = []

    def set(self, *phases: Phase) -> None:
        end = time.monotonic()
        plan = []
        for phase in phases:
            end += phase.seconds
            plan.append((end, phase))
        with self._lock:
            self._plan = plan

    def clear(self) -> None:
        self.set()

    def current(self) -> Phase | None:
        now = time.monotonic()
        with self._lock:
            return next((phase for end, phase in self._plan if now < end), None)


class FaultTwilio(TwilioServer):
    name = "twilio"

    def __init__(self) -> None:
        super().__init__(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)
        self.timeline = Timeline()

    def respond(self, request: Received) -> Reply:
        phase = self.timeline.current()
        if phase is None:
            return super().respond(request)
        if phase.status is None:
            return replace(super().respond(request), delay=phase.delay)
        if phase.status == 429:
            return Reply.twilio_error(20429, retry_after=str(phase.retry_after) if phase.retry_after else None)
        body = {"code": 20500, "message": "An internal server error has occurred", "status": phase.status}
        return Reply(phase.status, body)

    def sms_requests(self) -> list[tuple[str, Received]]:
        """Every SMS request (any answer) with the fault id its text carries."""
        found = []
        for request in self.matching(lambda r: r.method == "POST"):
            match = FAULT_ID.search(request.form().get("Body", ""))
            if match:
                found.append((match.group(1), request))
        return found


class FaultCapture(CaptureServer):
    name = "capture"

    def __init__(self) -> None:
        super().__init__(secret=WEBHOOK_SECRET)
        self.timeline = Timeline()

    def respond(self, request: Received) -> Reply:
        phase = self.timeline.current()
        if phase is None:
            return super().respond(request)
        if phase.status is None:
            return replace(super().respond(request), delay=phase.delay)
        headers = {"Retry-After": str(phase.retry_after)} if phase.retry_after else {}
        return Reply(phase.status, {"error": "scripted outage"}, headers)


@dataclass(frozen=True)
class Arrival:
    """One page a provider accepted (answered 2xx)."""

    fault_id: str
    channel: str  # webhook | sms
    page_id: str  # the webhook's page id; for SMS the fault id (one SMS page per incident)
    kind: str
    at: float  # unix time it reached the provider
    send_at: datetime | None  # the page's send_at (webhooks carry it; SMS do not)
    attempt: int = 0  # the notifier's attempt number (webhooks carry it; SMS do not)


class Arrivals:
    """Incrementally parses what the two servers accepted, so polling thousands of pages stays cheap."""

    def __init__(self, capture: FaultCapture, twilio: FaultTwilio) -> None:
        self._sources: list[tuple[str, ProviderServer]] = [("webhook", capture), ("sms", twilio)]
        self._seen = {"webhook": 0, "sms": 0}
        self._all: list[Arrival] = []
        self._lock = threading.Lock()

    def _new_requests(self, channel: str, server: ProviderServer) -> list[Received]:
        fresh = server.matching(lambda _: True)[self._seen[channel] :]  # requests are only ever appended
        self._seen[channel] += len(fresh)
        return [r for r in fresh if r.method == "POST" and 200 <= r.status < 300]

    def refresh(self) -> None:
        with self._lock:
            for channel, server in self._sources:
                for request in self._new_requests(channel, server):
                    arrival = _webhook_arrival(request) if channel == "webhook" else _sms_arrival(request)
                    if arrival is not None:
                        self._all.append(arrival)

    def of_run(self, run: str) -> list[Arrival]:
        self.refresh()
        with self._lock:
            return [a for a in self._all if a.fault_id.startswith(run)]


def _webhook_arrival(request: Received) -> Arrival | None:
    body = request.json()
    page = body.get("page") or {}
    fault_id = (page.get("labels") or {}).get("fault_id")
    if not fault_id:
        return None
    send_at = datetime.fromisoformat(page["send_at"]) if page.get("send_at") else None
    attempt = int(body.get("attempt") or 0)
    return Arrival(fault_id, "webhook", page["page_id"], page.get("kind", ""), request.at, send_at, attempt)


def _sms_arrival(request: Received) -> Arrival | None:
    text = request.form().get("Body", "")
    match = FAULT_ID.search(text)
    if not match:
        return None
    tag = text[1 : text.find("]")] if text.startswith("[") else ""
    kind = SMS_TAGS.get(tag, "trigger")
    return Arrival(match.group(1), "sms", match.group(1), kind, request.at, None)
