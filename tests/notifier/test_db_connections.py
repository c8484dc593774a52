"""A notifier process holds at most 2 x NOTIFIER_DB_POOL_SIZE PostgreSQL connections: its one SQLAlchemy engine (the
pool plus as many overflow connections). It used to be fixed at 10 + 10 whatever the settings said."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertrouter_notifier.runtime import Notifier, max_db_connections
from alertrouter_notifier.settings import NotifierSettings


@pytest.mark.parametrize("size", [1, 4, 10])
async def test_the_engine_follows_the_pool_size(size: int) -> None:
    settings = NotifierSettings(db_pool_size=size, kafka_bootstrap_servers="127.0.0.1:9")
    notifier = Notifier(settings)  # not started: nothing connects
    try:
        pool = notifier.engine.pool
        overflow = pool._max_overflow  # type: ignore[attr-defined]  # SQLAlchemy has no public getter
        assert (pool.size(), overflow) == (size, size)  # type: ignore[attr-defined]
        assert size + overflow == max_db_connections(settings) == 2 * size
    finally:
        await notifier.channels.aclose()
        await notifier.http.aclose()
        await notifier.engine.dispose()


def test_the_pool_size_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_DB_POOL_SIZE", "3")
    assert NotifierSettings().db_pool_size == 3


def test_the_sizing_docs_state_this_maximum() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
    assert "2 \u00d7 `NOTIFIER_DB_POOL_SIZE`" in docs  # 2 x, as the docs write it
