"""Currencies, holds, refunds, split payments, payouts and metadata.

* ``currencies``: ISO 4217 codes with their minor-unit exponents, and operators' own assets.
* Every wallet has a currency, and its exponent, so that the database itself keeps every balance
  at exactly the currency's digits (``scale(balance) = exponent``). Money columns lose their
  fixed two decimals; existing wallets get the default currency (``BILLING_DEFAULT_CURRENCY``).
* ``holds``: money reserved on a wallet (``wallets.held`` is the sum of its pending holds).
* ``transactions`` gain their currency, metadata, the clients they touch (``parties``), the hold
  they belong to and, for refunds, the transaction they refund (``refund_of``); ``refunded``
  can never exceed the amount.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ISO 4217 (active codes with minor units, 2025). Most have two decimals; these do not.
EXPONENTS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
TWO_DECIMALS = [
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BMD",
    "BND",
    "BOB",
    "BOV",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHE",
    "CHF",
    "CHW",
    "CNY",
    "COP",
    "COU",
    "CRC",
    "CUP",
    "CVE",
    "CZK",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IRR",
    "JMD",
    "KES",
    "KGS",
    "KHR",
    "KPW",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MXV",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "USD",
    "USN",
    "UYU",
    "UZS",
    "VED",
    "VES",
    "WST",
    "XCD",
    "XCG",
    "YER",
    "ZAR",
    "ZMW",
    "ZWG",
]
ISO_4217 = {**dict.fromkeys(TWO_DECIMALS, 2), **EXPONENTS}

MONEY_COLUMNS = [
    ("wallets", "balance"),
    ("transactions", "amount"),
    ("wallet_operations", "amount"),
    ("wallet_operations", "balance_after"),
]
OPERATIONS = (
    "'CREATE_CLIENT', 'CREATE_WALLET', 'RESUPPLY', 'WITHDRAW', 'TRANSFER', 'SPLIT_TRANSFER',"
    " 'HOLD_TRANSFER', 'CAPTURE_HOLD', 'VOID_HOLD', 'REFUND'"
)
KINDS = "'RESUPPLY', 'WITHDRAWAL', 'TRANSFER', 'SPLIT', 'HOLD', 'CAPTURE', 'VOID', 'REFUND'"


def upgrade() -> None:
    config = op.get_context().config
    default = "USD" if config is None else config.attributes.get("default_currency", "USD")
    op.create_table(
        "currencies",
        sa.Column("code", sa.Text(), primary_key=True),
        sa.Column("exponent", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("custom", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("code ~ '^[A-Z][A-Z0-9_]{2,11}$'", name="ck_currencies_code_form"),
        sa.CheckConstraint("exponent BETWEEN 0 AND 8", name="ck_currencies_exponent_range"),
    )
    currencies = sa.table("currencies", sa.column("code"), sa.column("exponent"))
    op.bulk_insert(currencies, [{"code": c, "exponent": e} for c, e in sorted(ISO_4217.items())])
    if default not in ISO_4217:
        raise RuntimeError(f"BILLING_DEFAULT_CURRENCY={default!r} is not an ISO 4217 code")
    exponent = ISO_4217[default]

    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(), existing_type=sa.Numeric(20, 2))
    if exponent != 2:
        # Amounts the default currency cannot represent would change value: refuse.
        bad = op.get_bind().scalar(
            sa.text(
                "SELECT count(*) FROM wallet_operations WHERE round(amount, :e) <> amount"
            ).bindparams(e=exponent)
        )
        if bad:
            raise RuntimeError(
                f"{bad} existing amounts have more decimals than {default} allows; set"
                " BILLING_DEFAULT_CURRENCY to the ledger's currency before migrating"
            )
        for table, column in MONEY_COLUMNS:
            op.execute(f"UPDATE {table} SET {column} = round({column}, {exponent})")

    op.add_column("wallets", sa.Column("currency", sa.Text(), nullable=True))
    op.add_column("wallets", sa.Column("exponent", sa.SmallInteger(), nullable=True))
    op.add_column("wallets", sa.Column("held", sa.Numeric(), nullable=True))
    op.add_column("wallets", sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.text("UPDATE wallets SET currency = :c, exponent = :e, held = round(0, :e)").bindparams(
            c=default, e=exponent
        )
    )
    for column in ("currency", "exponent", "held"):
        op.alter_column("wallets", column, nullable=False)
    op.create_foreign_key("fk_wallets_currency", "wallets", "currencies", ["currency"], ["code"])
    op.create_check_constraint(
        "ck_wallets_exact_digits", "wallets", "scale(balance) = exponent AND scale(held) = exponent"
    )
    op.create_check_constraint("ck_wallets_held_not_negative", "wallets", "held >= 0")
    op.create_check_constraint("ck_wallets_balance_below_limit", "wallets", "balance < 1e18")

    op.create_table(
        "holds",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("wallet_from_id", sa.BigInteger(), sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("wallet_to_id", sa.BigInteger(), sa.ForeignKey("wallets.id"), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("captured_amount", sa.Numeric(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("metadata", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name="ck_holds_amount_positive"),
        sa.CheckConstraint(
            "status IN ('PENDING', 'CAPTURED', 'VOIDED', 'EXPIRED')", name="ck_holds_status_known"
        ),
        sa.CheckConstraint(
            "(status = 'CAPTURED') = (captured_amount IS NOT NULL)"
            " AND (captured_amount > 0 AND captured_amount <= amount)",
            name="ck_holds_captured_within_amount",
        ),
        sa.CheckConstraint(
            "(status = 'PENDING') = (resolved_at IS NULL)", name="ck_holds_resolved_once"
        ),
        sa.CheckConstraint("wallet_from_id <> wallet_to_id", name="ck_holds_two_wallets"),
        # Room on each page for a capture's or void's new row version: an update that leaves the
        # indexed columns alone stays on its page (HOT) and adds no index entry, so resolving one
        # hold does not conflict (SERIALIZABLE) with postings that look up others nearby.
        postgresql_with={"fillfactor": 70},
    )
    op.create_index(
        "ix_holds_wallet_from_id_expires_at",
        "holds",
        ["wallet_from_id", "expires_at"],
        postgresql_include=["amount"],
    )
    op.create_index("ix_holds_wallet_from_id_id", "holds", ["wallet_from_id", "id"])
    op.create_index("ix_holds_wallet_to_id_id", "holds", ["wallet_to_id", "id"])

    op.add_column("transactions", sa.Column("currency", sa.Text(), nullable=True))
    op.add_column(
        "transactions",
        sa.Column("metadata", postgresql.JSONB(), nullable=False, server_default="{}"),
    )
    op.add_column(
        "transactions",
        sa.Column(
            "parties", postgresql.ARRAY(sa.BigInteger()), nullable=False, server_default="{}"
        ),
    )
    op.add_column("transactions", sa.Column("hold_id", sa.BigInteger(), nullable=True))
    op.add_column("transactions", sa.Column("refund_of", sa.BigInteger(), nullable=True))
    op.add_column(
        "transactions", sa.Column("refunded", sa.Numeric(), nullable=False, server_default="0")
    )
    op.execute(
        sa.text(
            "UPDATE transactions t SET currency = :c, parties = coalesce("
            "(SELECT array_agg(DISTINCT w.client_id ORDER BY w.client_id)"
            " FROM wallet_operations o JOIN wallets w ON w.id = o.wallet_id"
            " WHERE o.transaction_id = t.id), '{}')"
        ).bindparams(c=default)
    )
    op.alter_column("transactions", "currency", nullable=False)
    op.drop_constraint("ck_transactions_kind_known", "transactions", type_="check")
    op.create_check_constraint("ck_transactions_kind_known", "transactions", f"kind IN ({KINDS})")
    op.create_check_constraint(
        "ck_transactions_refunded_within_amount",
        "transactions",
        "refunded >= 0 AND refunded <= amount",
    )
    op.create_index("ix_transactions_kind_id", "transactions", ["kind", "id"])
    op.create_index("ix_transactions_created_at", "transactions", ["created_at"])
    op.create_index(
        "ix_transactions_reference",
        "transactions",
        ["reference"],
        postgresql_where=sa.text("reference IS NOT NULL"),
    )
    op.create_index(
        "ix_transactions_metadata",
        "transactions",
        ["metadata"],
        postgresql_using="gin",
        postgresql_ops={"metadata": "jsonb_path_ops"},
        postgresql_where=sa.text("metadata <> '{}'"),
    )
    op.create_index("ix_transactions_parties", "transactions", ["parties"], postgresql_using="gin")
    op.create_index(
        "ix_transactions_refund_of",
        "transactions",
        ["refund_of"],
        postgresql_where=sa.text("refund_of IS NOT NULL"),
    )
    op.create_index(
        "ix_transactions_hold_id",
        "transactions",
        ["hold_id"],
        postgresql_where=sa.text("hold_id IS NOT NULL"),
    )

    op.add_column("wallet_operations", sa.Column("reference", sa.String(255), nullable=True))

    op.add_column("idempotency_keys", sa.Column("wallet_id", sa.BigInteger(), nullable=True))
    op.drop_constraint("ck_idempotency_keys_one_result", "idempotency_keys", type_="check")
    op.create_check_constraint(
        "ck_idempotency_keys_one_result",
        "idempotency_keys",
        "num_nonnulls(transaction_id, client_id, wallet_id) = 1",
    )
    op.drop_constraint("ck_idempotency_keys_operation_known", "idempotency_keys", type_="check")
    op.create_check_constraint(
        "ck_idempotency_keys_operation_known", "idempotency_keys", f"operation IN ({OPERATIONS})"
    )


def downgrade() -> None:
    # The schema before has no place for these: refuse rather than lose money's history.
    kept = op.get_bind().scalar(
        sa.text(
            "SELECT (SELECT count(*) FROM transactions WHERE kind NOT IN ('RESUPPLY', 'TRANSFER'))"
            " + (SELECT count(*) FROM holds)"
            " + (SELECT count(DISTINCT currency) FILTER (WHERE exponent <> 2) FROM wallets)"
        )
    )
    if kept:
        raise RuntimeError(
            "the ledger holds holds, refunds, payouts, splits or wallets in currencies without"
            " two decimals; revision 0004 cannot represent them"
        )
    op.execute("DELETE FROM idempotency_keys WHERE wallet_id IS NOT NULL")
    op.drop_constraint("ck_idempotency_keys_operation_known", "idempotency_keys", type_="check")
    op.create_check_constraint(
        "ck_idempotency_keys_operation_known",
        "idempotency_keys",
        "operation IN ('CREATE_CLIENT', 'RESUPPLY', 'TRANSFER')",
    )
    op.drop_constraint("ck_idempotency_keys_one_result", "idempotency_keys", type_="check")
    op.create_check_constraint(
        "ck_idempotency_keys_one_result",
        "idempotency_keys",
        "num_nonnulls(transaction_id, client_id) = 1",
    )
    op.drop_column("idempotency_keys", "wallet_id")
    op.drop_column("wallet_operations", "reference")
    for index in (
        "parties",
        "metadata",
        "reference",
        "created_at",
        "kind_id",
        "refund_of",
        "hold_id",
    ):
        op.drop_index(f"ix_transactions_{index}", table_name="transactions")
    op.drop_constraint("ck_transactions_refunded_within_amount", "transactions", type_="check")
    op.drop_constraint("ck_transactions_kind_known", "transactions", type_="check")
    op.create_check_constraint(
        "ck_transactions_kind_known", "transactions", "kind IN ('RESUPPLY', 'TRANSFER')"
    )
    for column in ("refunded", "refund_of", "hold_id", "parties", "metadata", "currency"):
        op.drop_column("transactions", column)
    op.drop_table("holds")
    for name in (
        "ck_wallets_balance_below_limit",
        "ck_wallets_held_not_negative",
        "ck_wallets_exact_digits",
    ):
        op.drop_constraint(name, "wallets", type_="check")
    op.drop_constraint("fk_wallets_currency", "wallets", type_="foreignkey")
    for column in ("held_until", "held", "exponent", "currency"):
        op.drop_column("wallets", column)
    for table, column in MONEY_COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.Numeric(20, 2),
            existing_type=sa.Numeric(),
            postgresql_using=f"round({column}, 2)",
        )
    op.drop_table("currencies")
