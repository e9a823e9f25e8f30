"""Ledger audit: checks that every cent is accounted for.

All checks read one SERIALIZABLE READ ONLY DEFERRABLE snapshot: it waits for a moment free of
serialization anomalies, so its reads are consistent even while money moves, and it can never
fail with a serialization error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

SHOWN_PER_CHECK = 20

CHECKS: list[tuple[str, str]] = [
    (
        "balance equals the sum of the wallet's operations",
        """
        SELECT format('wallet %s: balance %s, but its operations sum to %s',
                      w.id, w.balance, coalesce(s.total, 0))
        FROM wallets w
        LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM wallet_operations
                   GROUP BY wallet_id) s ON s.wallet_id = w.id
        WHERE w.balance <> coalesce(s.total, 0)
        ORDER BY w.id
        """,
    ),
    (
        "each transaction has the legs its kind requires",
        """
        SELECT format('transaction %s (%s of %s): %s leg(s) summing to %s',
                      t.number, t.kind, t.amount, count(o.id), coalesce(sum(o.amount), 0))
        FROM transactions t
        LEFT JOIN wallet_operations o ON o.transaction_id = t.id
        GROUP BY t.id
        HAVING (t.kind = 'TRANSFER' AND (count(o.id) <> 2 OR coalesce(sum(o.amount), 0) <> 0
                                         OR max(o.amount) <> t.amount))
            OR (t.kind = 'RESUPPLY' AND (count(o.id) <> 1
                                         OR coalesce(sum(o.amount), 0) <> t.amount))
        ORDER BY t.id
        """,
    ),
    (
        "each operation and idempotency key belongs to an existing transaction",
        """
        SELECT format('operation %s of wallet %s: transaction %s does not exist',
                      o.id, o.wallet_id, o.transaction_id)
        FROM wallet_operations o
        WHERE NOT EXISTS (SELECT FROM transactions t WHERE t.id = o.transaction_id)
        UNION ALL
        SELECT format('idempotency key %s of %s: transaction %s does not exist',
                      k.key, k.caller, k.transaction_id)
        FROM idempotency_keys k
        WHERE k.transaction_id IS NOT NULL
          AND NOT EXISTS (SELECT FROM transactions t WHERE t.id = k.transaction_id)
        """,
    ),
    (
        "each operation's balance_after follows from the previous one",
        """
        SELECT format('operation %s of wallet %s: previous balance %s %s %s gives %s, not %s',
                      id, wallet_id, coalesce(prev, 0), CASE WHEN amount < 0 THEN '-' ELSE '+' END,
                      abs(amount), coalesce(prev, 0) + amount, balance_after)
        FROM (SELECT id, wallet_id, amount, balance_after,
                     lag(balance_after)
                         OVER (PARTITION BY wallet_id ORDER BY created_at, id) AS prev
              FROM wallet_operations) chain
        WHERE coalesce(prev, 0) + amount <> balance_after
        ORDER BY wallet_id, id
        """,
    ),
    (
        "no balance is negative",
        """
        SELECT format('wallet %s: negative balance %s', id, balance)
        FROM wallets WHERE balance < 0
        UNION ALL
        SELECT format('operation %s of wallet %s: negative balance_after %s',
                      id, wallet_id, balance_after)
        FROM wallet_operations WHERE balance_after < 0
        """,
    ),
    (
        "the total of all balances equals the total ever resupplied",
        """
        SELECT format('balances total %s, but resupplies total %s', b.total, r.total)
        FROM (SELECT coalesce(sum(balance), 0) AS total FROM wallets) b,
             (SELECT coalesce(sum(amount), 0) AS total FROM transactions
              WHERE kind = 'RESUPPLY') r
        WHERE b.total <> r.total
        """,
    ),
]


@dataclass
class Finding:
    check: str
    examples: list[str]
    count: int


@dataclass
class AuditReport:
    wallets: int = 0
    transactions: int = 0
    operations: int = 0
    total_balance: Decimal = Decimal("0.00")
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def render(self) -> str:
        lines = [
            f"Audited {self.wallets} wallets, {self.transactions} transactions,"
            f" {self.operations} operations; total balance {self.total_balance:.2f}."
        ]
        for name, _ in CHECKS:
            finding = next((f for f in self.findings if f.check == name), None)
            if finding is None:
                lines.append(f"  ok    {name}")
                continue
            lines.append(f"  FAIL  {name}: {finding.count} violation(s)")
            lines.extend(f"          {example}" for example in finding.examples)
            if finding.count > len(finding.examples):
                lines.append(f"          ... and {finding.count - len(finding.examples)} more")
        lines.append("Ledger is consistent." if self.ok else "Ledger has violations.")
        return "\n".join(lines)


async def audit(engine: AsyncEngine) -> AuditReport:
    async with engine.connect() as conn:
        await conn.execution_options(
            isolation_level="SERIALIZABLE", postgresql_readonly=True, postgresql_deferrable=True
        )
        async with conn.begin():
            return await _audit(conn)


async def _audit(conn: AsyncConnection) -> AuditReport:
    counts = (
        await conn.execute(
            text(
                "SELECT (SELECT count(*) FROM wallets) AS wallets,"
                " (SELECT count(*) FROM transactions) AS transactions,"
                " (SELECT count(*) FROM wallet_operations) AS operations,"
                " (SELECT coalesce(sum(balance), 0) FROM wallets) AS total"
            )
        )
    ).one()
    report = AuditReport(
        wallets=counts.wallets,
        transactions=counts.transactions,
        operations=counts.operations,
        total_balance=counts.total,
    )
    for name, query in CHECKS:
        # Only this module's constant queries are interpolated here.
        shown = f"SELECT count(*) OVER (), v FROM ({query}) AS c(v) LIMIT {SHOWN_PER_CHECK}"  # noqa: S608
        found = (await conn.execute(text(shown))).all()
        if found:
            report.findings.append(Finding(name, [row[1] for row in found], found[0][0]))
    return report
