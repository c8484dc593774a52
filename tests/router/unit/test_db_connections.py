"""A router process holds at most 3 x ROUTER_DB_POOL_SIZE PostgreSQL connections: its SQLAlchemy engine (the pool
plus as many overflow connections) and its asyncpg pool. docs/deployment.md sizes max_connections with this."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertrouter_router.runtime import build_state, max_db_connections
from alertrouter_router.settings import RouterSettings

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ownership"


@pytest.mark.parametrize("size", [1, 7, 10])
async def test_the_engine_and_the_asyncpg_pool_follow_the_pool_size(size: int) -> None:
    settings = RouterSettings(db_pool_size=size, config_path=str(EXAMPLE), kafka_bootstrap_servers="127.0.0.1:9")
    state = build_state(settings)
    try:
        engine_pool = state.engine.pool
        assert engine_pool.size() == size  # type: ignore[attr-defined]
        overflow = engine_pool._max_overflow  # type: ignore[attr-defined]  # SQLAlchemy has no public getter
        assert overflow == size
        assert state.pool.get_max_size() == size
        assert size + overflow + state.pool.get_max_size() == max_db_connections(settings) == 3 * size
    finally:
        await state.engine.dispose()


def test_the_pool_size_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_DB_POOL_SIZE", "4")
    assert max_db_connections(RouterSettings()) == 12


def test_the_sizing_docs_state_this_maximum() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "deployment.md").read_text()
    assert "3 \u00d7 `ROUTER_DB_POOL_SIZE`" in docs  # 3 x, as the docs write it
