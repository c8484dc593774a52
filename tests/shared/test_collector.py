"""The services freeze their start-up heap before serving, so full collections do not walk the imported modules."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from alertrouter_shared.collector import YOUNG_THRESHOLD
from alertrouter_shared.serving import run_fast


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold, policy = gc.get_threshold(), asyncio.get_event_loop_policy()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    asyncio.set_event_loop_policy(policy)  # run_fast installs uvloop's


async def _collector_state() -> tuple[int, int]:
    return gc.get_freeze_count(), gc.get_threshold()[0]


@pytest.mark.usefixtures("restored_collector")
def test_run_fast_serves_with_the_startup_heap_frozen() -> None:
    gc.unfreeze()
    frozen, young = run_fast(_collector_state())
    assert frozen > 10_000  # the modules imported by this test process at least
    assert young == YOUNG_THRESHOLD


@pytest.mark.usefixtures("restored_collector")
def test_cycles_made_after_the_freeze_are_still_collected() -> None:
    gc.unfreeze()
    run_fast(_collector_state())
    garbage: list[list[object]] = [[] for _ in range(1000)]
    for item in garbage:
        item.append(item)  # reference cycles only the collector can free
    del garbage, item
    assert gc.collect() >= 1000
