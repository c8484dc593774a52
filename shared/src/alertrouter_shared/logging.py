"""Structured JSON logs with per-message context (event id, dedup key, incident id, decision id, page id).

Context is bound in contextvars by the consumer loop and the HTTP handlers, so every line written while one
alert is handled carries its identifiers without passing them around.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
import structlog

bind_context = structlog.contextvars.bind_contextvars
bound_context = structlog.contextvars.bound_contextvars


@dataclass
class _Output:
    """Where configure_logging sends JSON lines, for log_each's fast path (None: not configured for JSON)."""

    stream: BinaryIO | None = None
    level: int = logging.INFO


_output = _Output()


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """JSON lines rendered by orjson straight to bytes: ingest logs one line per accepted alert, so the cost
    of a line matters (about a third of the stdlib json + print path)."""
    json_lines = fmt == "json"
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    factory: Any = (
        structlog.BytesLoggerFactory(sys.stdout.buffer) if json_lines else structlog.PrintLoggerFactory(sys.stdout)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    _output.stream = sys.stdout.buffer if json_lines else None
    _output.level = logging.getLevelName(level.upper())
    # Third-party libraries log through stdlib logging; keep them quiet but visible on warnings.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def log_each(logger: Any, event: str, rows: Sequence[Mapping[str, Any]], **common: Any) -> None:
    """``logger.info(event, **common, **row)`` for every row -- one JSON line each -- rendered and written at once.

    Ingest logs every accepted alert; running structlog's processor chain once per line was a sixth of its CPU
    at 100 alerts per request. The lines are the same (context, fields, level, UTC timestamp), one write per call.
    """
    if _output.stream is None:
        for row in rows:
            logger.info(event, **common, **row)
        return
    if _output.level > logging.INFO or not rows:
        return
    base = {**structlog.contextvars.get_contextvars(), **common, "event": event, "level": "info"}
    base["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    _output.stream.write(b"".join(orjson.dumps({**base, **row}, option=orjson.OPT_APPEND_NEWLINE) for row in rows))
    _output.stream.flush()


def mask(value: str, keep: int = 4) -> str:
    """Hide a secret or a phone number in logs and API output: only the last few characters stay."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]
