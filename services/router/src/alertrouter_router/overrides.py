"""Schedule overrides made through the API ("cover me tonight"), laid over the configured ones.

They are stored (``router_schedule_override``), checked like configured overrides (known people, end after start,
no two overrides of one schedule for the same person at once) and added to the schedules of the configuration in
force, so the on-call calculator, ``/v1/oncall``, shifts, iCal, the preview and the live path all see them. Every
router process reads those in effect and the recent past ones every ``ROUTER_OVERRIDES_POLL_SECONDS`` (the
API process right after a change), and again after a reload. The configuration's version stays the files' version:
API overrides are recorded in the audit trail, not in the version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alertrouter_router.config_state import ConfigHolder
from alertrouter_router.db.pool import Conn
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.model import Override, OwnershipConfig, Schedule

API_PREFIX = "api-"  # an API override's id in the schedule: api-<first 12 of its row id>


@dataclass(frozen=True)
class StoredOverride:
    id: str
    schedule_id: str
    user_id: str
    starts_at: datetime
    ends_at: datetime
    replaces: str | None

    def as_override(self) -> Override:
        return Override(
            id=API_PREFIX + self.id[:12],
            user=self.user_id,
            start=self.starts_at,
            end=self.ends_at,
            replaces=self.replaces,
        )


def laid_over(loaded: LoadedConfig, stored: Sequence[StoredOverride]) -> LoadedConfig:
    """The configuration with the stored overrides added to their schedules. Unknown schedules are ignored, and so
    is an override whose person a reload removed: it hid whoever the schedule has on call and paged nobody."""
    if not stored:
        return loaded
    extra: dict[str, list[Override]] = {}
    users = loaded.config.users_by_id
    for item in stored:
        if item.user_id in users:
            extra.setdefault(item.schedule_id, []).append(item.as_override())
    config = loaded.config
    schedules = [
        Schedule.model_construct(**{**dict(s), "overrides": [*s.overrides, *extra.get(s.id, [])]})
        for s in config.schedules
    ]
    # model_construct: a fresh instance, so the cached *_by_id lookups are computed again from the new schedules
    merged = OwnershipConfig.model_construct(**{**dict(config), "schedules": schedules})
    return replace(loaded, config=merged)


def problem(config: OwnershipConfig, schedule_id: str, new: Override, now: datetime) -> str | None:
    """Why ``new`` cannot join the schedule (checked like a configured override), or None. API overrides already
    over are history: one removed by mistake an hour ago does not stop its replacement from covering that hour."""
    for name in ("user", "replaces"):
        value = getattr(new, name)
        if value is not None and value not in config.users_by_id:
            return f"{name}: unknown user {value!r}"
    for other in config.schedules_by_id[schedule_id].overrides:
        if other.id.startswith(API_PREFIX) and other.end <= now:
            continue
        clash = other.start < new.end and new.start < other.end
        if clash and (None in (other.replaces, new.replaces) or other.replaces == new.replaces):
            return f"overlapping overrides: it overlaps {other.id!r} for the same person"
    return None


# How far back API overrides are laid over: the longest range of shifts the API answers (oncall_routes.MAX_RANGE).
HISTORY = timedelta(days=92)


async def in_effect(conn: Conn, now: datetime) -> tuple[StoredOverride, ...]:
    """The overrides in effect now, later, or within ``HISTORY`` before now, as they were in effect: a removed one
    until its removal, one removed before it began not at all. Past ones keep past shifts true (who covered last
    night, and when the shift on call now began); they change nobody's paging now."""
    rows = await conn.fetch(
        "SELECT id, schedule_id, user_id, starts_at, least(ends_at, deleted_at) AS ends_at, replaces "
        "FROM router_schedule_override WHERE (deleted_at IS NULL OR deleted_at > starts_at) "
        "AND least(ends_at, deleted_at) > $1 ORDER BY starts_at, id",
        now - HISTORY,
    )
    return tuple(StoredOverride(**dict(r)) for r in rows)


@dataclass
class OverlaidConfigs(ConfigHolder):
    """The configuration holder every router process uses: the files' configuration plus the stored overrides."""

    base: LoadedConfig | None = None
    stored: tuple[StoredOverride, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, path: str) -> OverlaidConfigs:
        held = ConfigHolder.load(path)
        return cls(**{**vars(held), "base": held.current})

    def reload(self, trigger: str, loaded_by: str, token_id: str | None = None) -> LoadedConfig:
        loaded = super().reload(trigger, loaded_by, token_id)
        self.base = loaded
        self.current = laid_over(loaded, self.stored)
        return self.current

    def use(self, stored: tuple[StoredOverride, ...]) -> None:
        if self.base is None:
            self.base = self.current
        if stored != self.stored:
            self.stored = stored
            self.current = laid_over(self.base, stored)


async def ended_early(conn: Conn, after: datetime, until: datetime) -> list[tuple[StoredOverride, datetime]]:
    """Overrides removed in ``(after, until]`` before they ended (while they ran, or before they began: the hours
    they give back may lie inside a shift already announced without them), each with the instant it was removed."""
    rows = await conn.fetch(
        "SELECT id, schedule_id, user_id, starts_at, ends_at, replaces, deleted_at FROM router_schedule_override "
        "WHERE deleted_at > $1 AND deleted_at <= $2 AND ends_at > deleted_at ORDER BY deleted_at, id",
        after,
        until,
    )
    return [(StoredOverride(**{k: v for k, v in dict(r).items() if k != "deleted_at"}), r["deleted_at"]) for r in rows]
