"""Events: the outbox every ledger change writes, and the webhooks that deliver it.

* ``wallet_events``: one row per change of a wallet (a balance moved, a hold reserved, resolved
  or expired), written by the posting statement itself. ``seq`` numbers a wallet's events
  1, 2, 3... under the wallet's row lock, so they are gap-free and in commit order per wallet:
  the cursor of a subscription. ``tx`` is the writing transaction's id (``pg_current_xact_id``):
  a reader of every wallet's events takes only those of transactions that have all ended (``tx``
  below the oldest transaction still running), so it never skips one that commits late.
* ``wallets.event_seq``: the number of the wallet's last event.
* Existing wallet operations become events (their available balance was not recorded: NULL).
* ``webhook_endpoints``, ``webhook_deliveries`` and ``event_relay`` (how far the relay that turns
  events into deliveries has read).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# xid8 as bigint: the 64-bit transaction id, epoch included, never wraps in practice.
CURRENT_TX = "CAST(CAST(pg_current_xact_id() AS text) AS bigint)"


def upgrade() -> None:
    op.add_column(
        "wallets",
        sa.Column("event_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    # The sweep that expires holds finds their wallets by this (see holds.expire_lapsed).
    op.create_index(
        "ix_wallets_held_until",
        "wallets",
        ["held_until"],
        postgresql_where=sa.text("held > 0"),
    )
    op.create_table(
        "wallet_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("tx", sa.BigInteger(), server_default=sa.text(CURRENT_TX), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("held_change", sa.Numeric(), nullable=False),
        sa.Column("balance", sa.Numeric(), nullable=False),
        sa.Column("available", sa.Numeric(), nullable=True),
        # No foreign keys to transactions and holds (as for wallet_operations): the audit
        # checks the links.
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seq > 0", name="ck_wallet_events_seq_positive"),
        sa.CheckConstraint(
            "kind IN ('RESUPPLY', 'WITHDRAWAL', 'TRANSFER', 'SPLIT', 'HOLD', 'CAPTURE', 'VOID',"
            " 'REFUND', 'HOLD_EXPIRED')",
            name="ck_wallet_events_kind_known",
        ),
        sa.UniqueConstraint("wallet_id", "seq", name="uq_wallet_events_wallet_id_seq"),
    )
    op.create_index("ix_wallet_events_tx_id", "wallet_events", ["tx", "id"])
    op.execute(
        """
        INSERT INTO wallet_events
          (wallet_id, seq, kind, amount, held_change, balance, available, transaction_id,
           reference, created_at)
        SELECT o.wallet_id, row_number() OVER (PARTITION BY o.wallet_id ORDER BY o.id), t.kind,
               o.amount, 0, o.balance_after, NULL, o.transaction_id, o.reference, o.created_at
        FROM wallet_operations AS o JOIN transactions AS t ON t.id = o.transaction_id
        ORDER BY o.id
        """
    )
    op.execute(
        "UPDATE wallets AS w SET event_seq = e.last FROM"
        " (SELECT wallet_id, max(seq) AS last FROM wallet_events GROUP BY wallet_id) AS e"
        " WHERE e.wallet_id = w.id"
    )

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "enabled = (disabled_reason IS NULL)", name="ck_webhook_endpoints_disabled_why"
        ),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "endpoint_id",
            sa.BigInteger(),
            sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", sa.BigInteger(), sa.ForeignKey("wallet_events.id"), nullable=False),
        sa.Column("wallet_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="PENDING", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        # Retries end ``BILLING_WEBHOOKS_RETRY_FOR`` after the first attempt (a resend
        # starts them over).
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'DELIVERED', 'FAILED')", name="ck_webhook_deliveries_status"
        ),
        sa.UniqueConstraint(
            "endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_id_event_id"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["endpoint_id", "wallet_id", "seq"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_id_id", "webhook_deliveries", ["endpoint_id", "id"]
    )
    op.create_table(
        "event_relay",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("horizon", sa.BigInteger(), nullable=False),
    )
    # The relay has read every transaction below ``horizon``. Everything written so far, this
    # migration included, is in its past: webhooks start with the events that follow.
    op.execute(f"INSERT INTO event_relay (name, horizon) VALUES ('webhooks', {CURRENT_TX} + 1)")


def downgrade() -> None:
    op.drop_index("ix_wallets_held_until", "wallets")
    op.drop_table("event_relay")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("wallet_events")
    op.drop_column("wallets", "event_seq")
