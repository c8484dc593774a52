"""``alertrouter-router token create``: a token straight into the database, for bootstrap and break-glass use
(the API's ``POST /v1/tokens`` needs a token already). Checked against the ownership configuration like the API,
recorded in the audit trail as the machine client ``cli``; the secret goes to stdout, everything else to stderr.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from alertrouter_router import audit, tokens
from alertrouter_router.db.pool import make_pool
from alertrouter_router.identity import Principal, Role
from alertrouter_router.ownership.errors import ConfigError
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.settings import RouterSettings

CLI = Principal(role=Role.ADMIN, client="cli")


async def create_token_command(
    settings: RouterSettings,
    user: str | None,
    client: str | None,
    role: str,
    act_as: bool,
    expires_in_days: int | None,
    description: str,
) -> int:
    try:
        new = tokens.NewToken(Role(role), user, client, act_as, description)
    except ValueError:
        print(f"role must be one of {', '.join(r.value for r in Role)}", file=sys.stderr)
        return 2
    try:
        config = load_config(settings.config_path)
    except ConfigError as exc:
        print(f"the ownership configuration does not load: {exc}", file=sys.stderr)
        return 1
    if why := tokens.check_holder(config.config, new):
        print(why, file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    if expires_in_days is not None:
        new = tokens.NewToken(new.role, user, client, act_as, description, now + timedelta(days=expires_in_days))
    async with make_pool(settings.database_url, 1) as pool, pool.acquire() as conn, conn.transaction():
        secret, row = await tokens.create(conn, new, CLI.actor, now)
        shown = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        await audit.record(conn, audit.entry(CLI, now, "token.create", row["id"], after=shown))
    holder = f"user {user}" if user else f"client {client}"
    print(f"token {row['id']} for {holder} ({new.role.value}); the secret is shown only now:", file=sys.stderr)
    print(secret)
    return 0
