"""answers act once: the SMS replies, key presses and Slack clicks acted on, by the provider's id of the request

Twilio's signature covers no time, so a captured signed request (an SMS reply "1", a key press "2") could be
replayed at any later time and acted again: a bare "1" acknowledging whatever incident was open for that number
then, a "2" escalating once more. Slack's signature is good for five minutes. Each such request is now claimed by
its id before it acts (``sms:<MessageSid>``, ``voice:<CallSid>``, ``slack:<X-Slack-Signature>``).

Revision ID: 0007_answers_once
Revises: 0006_held_page_outcomes
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_answers_once"
down_revision = "0006_held_page_outcomes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_answer",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notifier_answer")
