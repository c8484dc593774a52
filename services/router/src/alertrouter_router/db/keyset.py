"""Keyset pagination of lists ordered by a timestamp with the id as tie-breaker, newest first or (windows to come)
oldest first (the cursor: ``alertrouter_shared.cursors``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_


def older_than(at_column: Any, id_column: Any, key: tuple[datetime, str]) -> ColumnElement[bool]:
    """Rows after ``key`` in (timestamp, id) descending order: equal timestamps are split by id, so a page
    boundary between rows of the same instant neither skips nor repeats one."""
    at, row_id = key
    return or_(at_column < at, and_(at_column == at, id_column < row_id))


def later_than(at_column: Any, id_column: Any, key: tuple[datetime, str]) -> ColumnElement[bool]:
    """Rows after ``key`` in (timestamp, id) ascending order."""
    at, row_id = key
    return or_(at_column > at, and_(at_column == at, id_column > row_id))
