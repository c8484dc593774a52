"""A failed statement's message names the statement, never its parameters: those messages are logged (a batch
retried while the database is down), and the parameters of the notifier's INSERT are whole pages, phone numbers
and e-mail addresses included."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from alertrouter_shared.database import make_engine
from tests.helpers import DatabaseFactory

PHONE = "+447700900123"


async def test_a_failed_statement_does_not_carry_its_parameters(databases: DatabaseFactory) -> None:
    engine = make_engine(databases.create(), 1)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(text("SELECT 1 / (length(:address) - 13)"), {"address": PHONE})  # 0
    finally:
        await engine.dispose()
    message = str(failed.value)
    assert "division by zero" in message
    assert "SELECT 1 / (length" in message  # the statement is still named
    assert "parameters hidden" in message
    assert PHONE not in message
