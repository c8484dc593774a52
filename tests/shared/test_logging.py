"""JSON log lines: ``log_each`` (ingest's one line per accepted alert) writes what ``log.info`` would, row by row."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator

import httpx
import structlog
from fastapi import FastAPI

from alertrouter_shared import logging as shared_logging
from alertrouter_shared.logging import bound_context, configure_logging, get_logger, log_each
from alertrouter_shared.web.errors import install_problem_handlers


@contextlib.contextmanager
def captured_json_logs(level: str) -> Iterator[io.BytesIO]:
    """configure_logging onto a buffer; set up inside the test, as pytest's own capture swaps sys.stdout per phase."""
    buffer = io.BytesIO()
    stdout = io.TextIOWrapper(buffer)  # kept referenced: a collected wrapper closes its buffer
    real_stdout, sys.stdout = sys.stdout, stdout
    try:
        configure_logging("ingest", level, "json")
        yield buffer
    finally:
        sys.stdout = real_stdout
        stdout.detach()
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        shared_logging._output = shared_logging._Output()


def test_log_each_writes_the_lines_log_info_would() -> None:
    with captured_json_logs("INFO") as captured:
        _log_three_alerts()
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert len(lines) == 3
    assert set(lines[0]) == set(lines[1]) == set(lines[2])
    assert [line["dedup_key"] for line in lines] == ["am:x:0", "am:x:1", "am:x:2"]
    assert [line["event_id"] for line in lines] == ["e-0", "e-1", "e-2"]
    for line in lines[1:]:
        assert line["event"] == "alert_accepted"
        assert line["service"] == "ingest"
        assert line["request_id"] == "r-1"
        assert line["level"] == "info"
        assert line["timestamp"].endswith("Z")


def test_log_each_respects_the_level() -> None:
    with captured_json_logs("WARNING") as captured:
        _log_three_alerts()
    assert captured.getvalue() == b""


def _log_three_alerts() -> None:
    log = get_logger("test")
    with bound_context(request_id="r-1"):
        log.info("alert_accepted", source="alertmanager", dedup_key="am:x:0", event_id="e-0")
        rows = [{"dedup_key": "am:x:1", "event_id": "e-1"}, {"dedup_key": "am:x:2", "event_id": "e-2"}]
        log_each(log, "alert_accepted", rows, source="alertmanager")


async def test_an_error_on_a_path_that_carries_a_secret_logs_the_route_not_the_path() -> None:
    """A calendar feed's URL is its credential: a 503 while PostgreSQL restarted logged every polling feed's secret."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/calendar/{secret}.ics")
    async def feed(secret: str) -> None:
        raise ConnectionRefusedError("the database restarts")

    @app.get("/boom/{secret}")
    async def boom(secret: str) -> None:
        raise RuntimeError("a defect")

    with captured_json_logs("INFO") as captured:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://api"
        ) as client:
            assert (await client.get("/calendar/s3cr3t-feed.ics")).status_code == 503
            assert (await client.get("/boom/s3cr3t-token")).status_code == 500
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [(line["event"], line["path"]) for line in lines] == [
        ("dependency_unavailable", "/calendar/{secret}.ics"),
        ("unhandled_error", "/boom/{secret}"),
    ]
    assert b"s3cr3t" not in captured.getvalue()
