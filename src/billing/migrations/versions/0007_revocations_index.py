"""Revocations found by an index: where no connection can LISTEN (through a pooler in
transaction mode), every process asks once a second how many tokens are revoked, and when the
last was (see billing.db.token_cache).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_api_tokens_revoked_at",
        "api_tokens",
        ["revoked_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_api_tokens_revoked_at", "api_tokens")
