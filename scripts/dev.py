"""`make dev`: the whole system on this machine — Kafka, PostgreSQL, migrations, the three services, the example
configuration, a capture server for outgoing webhook notifications that also stands in for Twilio (SMS and voice
calls), and a mail sink for e-mail (aiosmtpd, writing a Maildir under .run/mail). Ctrl-C stops everything it started.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import local_kafka  # noqa: E402
import local_postgres  # noqa: E402

# DEV_RUN_DIR and DEV_PORT_OFFSET let a second stack run beside the first (the suite's test of this script does):
# every port below moves by the offset, except the example configuration's webhook addresses (18090).
RUN = Path(os.environ.get("DEV_RUN_DIR", str(ROOT / ".run"))).resolve()
LOGS = RUN / "logs"
PORT_OFFSET = int(os.environ.get("DEV_PORT_OFFSET", "0"))
KAFKA_PORT = int(os.environ.get("DEV_KAFKA_PORT", str(19092 + PORT_OFFSET)))
PG_PORT = int(os.environ.get("DEV_PG_PORT", str(15432 + PORT_OFFSET)))
CAPTURE_PORT = 18090 + PORT_OFFSET
MAIL_PORT = 18025 + PORT_OFFSET
MAIL_DIR = RUN / "mail"
PIDS = RUN / "dev.pids"
DEV_TOKEN = "dev-token"
# The capture server's Twilio stand-in: an account of its own, which no real Twilio knows.
DEV_TWILIO_SID = "AC" + "de7" * 10 + "de"
DEV_TWILIO_TOKEN = "dev-twilio-auth-token"
DEV_TWILIO_NUMBER = "+15005550006"
CONSOLE_USER = "anna"  # of the example configuration: team payments; a team admin may use every console form
SERVICES = {
    "ingest": (["alertrouter-ingest"], 8080 + PORT_OFFSET),
    "router": (["alertrouter-router", "run"], 8081 + PORT_OFFSET),
    "notifier": (["alertrouter-notifier", "run"], 8082 + PORT_OFFSET),
}
ROUTER_URL = f"http://127.0.0.1:{SERVICES['router'][1]}"
NOTIFIER_URL = f"http://127.0.0.1:{SERVICES['notifier'][1]}"

CURL = """
  # Fire an alert for service checkout (team payments) as Alertmanager would:
  curl -sS -X POST http://127.0.0.1:{ingest}/v1/alertmanager/dev-alertmanager \\
    -H 'content-type: application/json' --data @examples/alertmanager-checkout.json

  # The routing decision (who was paged and why), as JSON and as a paragraph:
  curl -sS -H 'authorization: Bearer dev-token' 'http://127.0.0.1:{router}/v1/decisions?service=checkout&limit=1'
  curl -sS -H 'authorization: Bearer dev-token' "http://127.0.0.1:{router}/v1/decisions/$(curl -sS \\
    -H 'authorization: Bearer dev-token' 'http://127.0.0.1:{router}/v1/decisions?service=checkout&limit=1' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')/explain"

  # The deliveries, and what the capture server received (webhooks, and SMS and calls in Twilio's place):
  curl -sS -H 'authorization: Bearer dev-token' 'http://127.0.0.1:{notifier}/v1/deliveries?limit=5'
  curl -sS http://127.0.0.1:{capture}/captured

  # Reply to an SMS page as its person would (From: the number /captured shows it went to; 1 = acknowledge,
  # 4 = resolve), and read the notifier's answer:
  curl -sS http://127.0.0.1:{capture}/twilio/reply --data-urlencode From=+447700900102 -d Body=1

  # Press 1 during the latest call to a number (a voice page), as its person would:
  curl -sS http://127.0.0.1:{capture}/twilio/press --data-urlencode To=+447700900102 -d Digits=1

  # Or let a number not answer its calls (the delivery ends "voice no-answer"; a level whose every page failed
  # escalates at once), and answer again:
  curl -sS http://127.0.0.1:{capture}/twilio/outcome --data-urlencode To=+447700900102 -d CallStatus=no-answer
  curl -sS http://127.0.0.1:{capture}/twilio/outcome --data-urlencode To=+447700900102 -d CallStatus=completed

  # E-mail pages land in the mail sink, one file each:
  ls {mail_dir}/
"""


def dev_env(kafka: str, database_url: str) -> dict[str, str]:
    token_hash = hashlib.sha256(DEV_TOKEN.encode()).hexdigest()
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "DATABASE_URL": database_url,
            "ALERTROUTER_CONFIG": str(ROOT / "examples" / "ownership"),
            "ALERTROUTER_API_TOKENS": f"{token_hash}:read+write",
            "LOG_FORMAT": "console",
            "NOTIFIER_ROUTER_URL": ROUTER_URL,
            "NOTIFIER_ROUTER_API_TOKEN": DEV_TOKEN,
            "ROUTER_NOTIFIER_URL": NOTIFIER_URL,
            "ROUTER_NOTIFIER_API_TOKEN": DEV_TOKEN,
            "NOTIFIER_PUBLIC_URL": NOTIFIER_URL,
            "NOTIFIER_CONSOLE_URL": ROUTER_URL,
            "NOTIFIER_WEBHOOK_SIGNING_SECRET": "dev-webhook-signing-secret",
            "NOTIFIER_ACK_SIGNING_SECRET": "dev-ack-signing-secret",
            # The mail sink: plain SMTP on loopback, no login (the example's e-mail contact methods arrive there).
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(MAIL_PORT),
            "NOTIFIER_SMTP_SECURITY": "none",
            # Twilio's REST API stood in by the capture server (SMS and voice contact methods arrive there; it
            # posts each one's signed final status back to NOTIFIER_PUBLIC_URL).
            "NOTIFIER_TWILIO_BASE_URL": f"http://127.0.0.1:{CAPTURE_PORT}",
            "NOTIFIER_TWILIO_ACCOUNT_SID": DEV_TWILIO_SID,
            "NOTIFIER_TWILIO_AUTH_TOKEN": DEV_TWILIO_TOKEN,
            "NOTIFIER_TWILIO_FROM": DEV_TWILIO_NUMBER,
            "NOTIFIER_SMS_REPLIES": "true",
            **{f"{name.upper()}_PORT": str(port) for name, (_, port) in SERVICES.items()},
        }
    )
    return env


def capture_command(port: int = CAPTURE_PORT, notifier_url: str = NOTIFIER_URL) -> list[str]:
    """The capture server, standing in for Twilio with the dev account (SMS and voice pages of the example people
    failed with "channel 'sms' is not configured"), and playing SMS replies to ``notifier_url``."""
    return [
        sys.executable, str(ROOT / "scripts" / "capture_server.py"), str(port),
        "--twilio-account", DEV_TWILIO_SID, "--twilio-token", DEV_TWILIO_TOKEN,
        "--twilio-number", DEV_TWILIO_NUMBER, "--notifier-url", notifier_url,
    ]  # fmt: skip


def mail_sink_command(port: int = MAIL_PORT, folder: Path = MAIL_DIR) -> list[str]:
    """aiosmtpd (a dev dependency) accepting every message into a Maildir: e-mail pages were retried against
    127.0.0.1:587, where nothing listens, until they expired."""
    return [
        sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
        "-c", "aiosmtpd.handlers.Mailbox", str(folder),
    ]  # fmt: skip


def wait_ready(name: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {LOGS / (name + '.log')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{name} not ready after {timeout:.0f}s; see {LOGS / (name + '.log')}")


def busy_ports() -> list[int]:
    """The ports this script's own processes need that something else holds: a stack already running (whose
    Kafka and PostgreSQL the failed second one would have stopped on its way out), or another program."""
    wanted = [port for _, port in SERVICES.values()] + [CAPTURE_PORT, MAIL_PORT]
    return [port for port in wanted if not local_kafka.port_is_free(port)]


def try_these() -> str:
    mail_dir = MAIL_DIR / "new"
    shown = mail_dir.relative_to(ROOT) if mail_dir.is_relative_to(ROOT) else mail_dir
    ports = {name: port for name, (_, port) in SERVICES.items()}
    return CURL.format(**ports, capture=CAPTURE_PORT, mail_dir=shown)


def _started_at(pid: int) -> str | None:
    """A process's start time (/proc/PID/stat, field 22): with the pid, it names one process, exec or not."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def record_processes(started: list[subprocess.Popen[bytes]]) -> None:
    """This script's and its processes' identities, kept while it runs: a run killed before its clean-up
    (kill -9, the OOM killer) leaves them to ``stop_abandoned`` of the next (Kafka and PostgreSQL are found by
    their folders anyway)."""
    pids = [os.getpid(), *(proc.pid for proc in started)]
    PIDS.write_text(json.dumps([[pid, _started_at(pid)] for pid in pids]))


def stop_abandoned() -> list[int]:
    """The processes of a previous run that is gone, still running: stopped (and their pids returned)."""
    try:
        (owner, owner_start), *children = json.loads(PIDS.read_text())
    except (OSError, ValueError):
        return []
    if owner_start is not None and _started_at(owner) == owner_start:
        return []  # that run is alive and keeps its ports (``busy_ports``)
    left = [pid for pid, start in children if start is not None and _started_at(pid) == start]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while any(_started_at(pid) for pid in left) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    PIDS.unlink(missing_ok=True)
    return left


def main() -> int:
    if left := stop_abandoned():
        print(f"dev: stopped {len(left)} process(es) a killed make dev had left running", flush=True)
    busy = busy_ports()
    if busy:
        print(
            f"dev: port(s) {', '.join(map(str, busy))} on 127.0.0.1 are in use. Is `make dev` already running? "
            "Stop it with Ctrl-C, or run a second stack beside it with DEV_PORT_OFFSET=100 DEV_RUN_DIR=.run/dev2.",
            file=sys.stderr,
            flush=True,
        )
        return 2
    LOGS.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []
    kafka = local_kafka.LocalKafka(RUN / "kafka", nodes=1, base_port=KAFKA_PORT)
    postgres: local_postgres.LocalPostgres | None = None
    try:
        print(f"dev: starting Kafka on 127.0.0.1:{KAFKA_PORT} …", flush=True)
        kafka.start()
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            print(f"dev: starting PostgreSQL on 127.0.0.1:{PG_PORT} …", flush=True)
            postgres = local_postgres.LocalPostgres(RUN / "pg", port=PG_PORT)
            postgres.start()
            database_url = postgres.url()
        env = dev_env(kafka.bootstrap_servers, database_url)
        for command in (["alertrouter-router", "migrate"], ["alertrouter-notifier", "migrate"]):
            subprocess.run(command, env=env, check=True)
        started.append(subprocess.Popen(capture_command(), start_new_session=True))
        mail_log = (LOGS / "mail.log").open("ab")
        started.append(
            subprocess.Popen(mail_sink_command(), stdout=mail_log, stderr=subprocess.STDOUT, start_new_session=True)
        )
        record_processes(started)
        print(f"dev: mail sink on 127.0.0.1:{MAIL_PORT}, e-mail pages in {MAIL_DIR}/new", flush=True)
        for name, (command, port) in SERVICES.items():
            log = (LOGS / f"{name}.log").open("ab")
            # Own session: Ctrl-C reaches only this script, which stops the services before Kafka and PostgreSQL.
            started.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )
            record_processes(started)
            wait_ready(name, port, started[-1])
            print(f"dev: {name} ready on http://127.0.0.1:{port} (log: {LOGS / (name + '.log')})", flush=True)
        console_token = sign_in_token(env)
        print(
            "\nalertrouter is running. API token: dev-token. Try:\n" + try_these() + "\nCtrl-C stops everything.",
            flush=True,
        )
        print(
            f"\nWeb console: http://127.0.0.1:{SERVICES['router'][1]}/ui/\n"
            f"  sign in as {CONSOLE_USER} (team_admin of payments) with this token: {console_token}\n",
            flush=True,
        )
        watch(started)
    except KeyboardInterrupt:
        pass
    finally:
        _ignore_stop_signals()  # a second Ctrl-C must not cut the clean-up short
        with contextlib.suppress(OSError):  # a closed terminal cannot be written to; the clean-up goes on
            print("dev: stopping …", flush=True)
        for proc in reversed(started):
            proc.terminate()
        for proc in reversed(started):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        kafka.stop()
        if postgres is not None:
            postgres.stop()
        PIDS.unlink(missing_ok=True)
    return 0


def sign_in_token(env: dict[str, str]) -> str:
    """A fresh token of a person of the example configuration for the web console (docs/console.md); the
    router's own CLI writes it straight into the database, so no API token is needed first."""
    made = subprocess.run(
        [
            "alertrouter-router", "token", "create", "--user", CONSOLE_USER, "--role", "team_admin",
            "--expires-in-days", "7", "--description", "make dev: web console",
        ],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return made.stdout.strip()


def watch(processes: list[subprocess.Popen[bytes]]) -> None:
    """Until Ctrl-C or SIGTERM; a service that dies ends the stack with a pointer to its log."""
    while True:
        for proc in processes:
            if proc.poll() is not None:
                print(f"dev: {proc.args!r} exited with {proc.returncode}; see {LOGS}", flush=True)
                return
        time.sleep(1)


# Ctrl-C, a SIGTERM, and the SIGHUP of a closed terminal: each stops everything the script started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _interrupt(signum: int, frame: object) -> None:
    """Further signals are ignored from here on: a SIGTERM sent to the whole group arrives twice (``uv run``
    passes on the one it got), and the second used to land in the clean-up's first line and cut it short, leaving
    Kafka, PostgreSQL and the services running."""
    _ignore_stop_signals()
    raise KeyboardInterrupt


def install_stop_handlers() -> list[signal.Signals]:
    """A signal ignored when the script started stays ignored: ``nohup make dev`` outlives its terminal, and a
    ``make dev &`` from a script is not stopped by the Ctrl-C meant for the foreground (the shells' rule)."""
    handled = [s for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
    for stop_signal in handled:
        signal.signal(stop_signal, _interrupt)
    return handled


if __name__ == "__main__":
    install_stop_handlers()
    raise SystemExit(main())
