"""calendar feeds remember the API token that made them, and die with it

A calendar feed's URL is a credential of its own. It outlived the token that made it: revoking a person's token
(or the person leaving the configuration) left their feed URLs serving schedules and shifts. A feed made from
now on answers 404 as soon as its token would be refused. Feeds made before this migration have no token on
record (NULL) and are checked by their creator instead (docs/api.md).

Revision ID: 0016_calendar_feed_token
Revises: 0015_wider_actor_columns
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_calendar_feed_token"
down_revision: str | None = "0015_wider_actor_columns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("router_calendar_feed", sa.Column("token_id", sa.String(36), nullable=True))


def downgrade() -> None:
    op.drop_column("router_calendar_feed", "token_id")
