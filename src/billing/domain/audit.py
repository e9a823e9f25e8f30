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
        HAVING CASE t.kind
          WHEN 'RESUPPLY' THEN count(o.id) <> 1 OR coalesce(sum(o.amount), 0) <> t.amount
          WHEN 'WITHDRAWAL' THEN count(o.id) <> 1 OR coalesce(sum(o.amount), 0) <> -t.amount
          WHEN 'HOLD' THEN count(o.id) <> 0
          WHEN 'VOID' THEN count(o.id) <> 0
          WHEN 'REFUND' THEN count(o.id) < 2 OR coalesce(sum(o.amount), 0) <> 0
                             OR count(o.id) FILTER (WHERE o.amount > 0) <> 1
                             OR max(o.amount) <> t.amount
          ELSE count(o.id) < 2 OR coalesce(sum(o.amount), 0) <> 0
               OR count(o.id) FILTER (WHERE o.amount < 0) <> 1 OR min(o.amount) <> -t.amount
               OR (t.kind <> 'SPLIT' AND count(o.id) <> 2)
        END
        ORDER BY t.id
        """,
    ),
    (
        "each operation, key, refund and hold transaction links to what exists",
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
        UNION ALL
        SELECT format('refund %s: it refunds %s, which is no refundable transaction',
                      t.number, t.refund_of)
        FROM transactions t
        WHERE (t.kind = 'REFUND') <> (t.refund_of IS NOT NULL)
           OR (t.refund_of IS NOT NULL AND NOT EXISTS (
                 SELECT FROM transactions r
                 WHERE r.id = t.refund_of AND r.kind IN ('TRANSFER', 'SPLIT', 'CAPTURE')))
        UNION ALL
        SELECT format('transaction %s (%s): hold %s does not exist', t.number, t.kind, t.hold_id)
        FROM transactions t
        WHERE (t.kind IN ('HOLD', 'CAPTURE', 'VOID')) <> (t.hold_id IS NOT NULL)
           OR (t.hold_id IS NOT NULL AND NOT EXISTS (SELECT FROM holds h WHERE h.id = t.hold_id))
        """,
    ),
    (
        "each hold has the transactions its status requires",
        """
        SELECT format('hold %s (%s of %s): %s hold, %s capture(s) of %s, %s void(s)',
                      h.id, h.status, h.amount, count(t.id) FILTER (WHERE t.kind = 'HOLD'),
                      count(t.id) FILTER (WHERE t.kind = 'CAPTURE'),
                      coalesce(sum(t.amount) FILTER (WHERE t.kind = 'CAPTURE'), 0),
                      count(t.id) FILTER (WHERE t.kind = 'VOID'))
        FROM holds h LEFT JOIN transactions t ON t.hold_id = h.id
        GROUP BY h.id
        HAVING count(t.id) FILTER (WHERE t.kind = 'HOLD' AND t.amount = h.amount) <> 1
            OR count(t.id) FILTER (WHERE t.kind = 'CAPTURE') <> (h.status = 'CAPTURED')::int
            OR count(t.id) FILTER (WHERE t.kind = 'VOID') <> (h.status = 'VOIDED')::int
            OR coalesce(sum(t.amount) FILTER (WHERE t.kind = 'CAPTURE'), 0)
               <> coalesce(h.captured_amount, 0)
        ORDER BY h.id
        """,
    ),
    (
        "each amount is in its wallet's currency, with at most its digits",
        """
        SELECT format('operation %s of wallet %s (%s): amount %s, transaction in %s',
                      o.id, w.id, w.currency, o.amount, t.currency)
        FROM wallet_operations o
        JOIN wallets w ON w.id = o.wallet_id
        JOIN transactions t ON t.id = o.transaction_id
        WHERE round(o.amount, w.exponent) <> o.amount OR t.currency <> w.currency
        UNION ALL
        SELECT format('wallet %s: %s has %s decimals, its balance %s', w.id, w.currency,
                      c.exponent, w.balance)
        FROM wallets w JOIN currencies c ON c.code = w.currency
        WHERE c.exponent <> w.exponent OR scale(w.balance) <> w.exponent
        """,
    ),
    (
        "what wallets hold equals their pending holds, and never exceeds their balance",
        """
        SELECT format('wallet %s: held %s, but its pending holds sum to %s',
                      w.id, w.held, coalesce(p.total, 0))
        FROM wallets w
        LEFT JOIN (SELECT wallet_from_id, sum(amount) AS total FROM holds
                   WHERE status = 'PENDING' GROUP BY wallet_from_id) p
          ON p.wallet_from_id = w.id
        WHERE w.held <> coalesce(p.total, 0)
        UNION ALL
        SELECT format('wallet %s: unexpired holds reserve %s, more than its balance %s',
                      w.id, p.live, w.balance)
        FROM wallets w
        JOIN (SELECT wallet_from_id, sum(amount) AS live FROM holds
              WHERE status = 'PENDING' AND expires_at > now() GROUP BY wallet_from_id) p
          ON p.wallet_from_id = w.id
        WHERE p.live > w.balance
        """,
    ),
    (
        "refunds of a transaction never exceed it",
        """
        SELECT format('transaction %s (%s): refunded %s, refunds total %s, amount %s',
                      t.number, t.kind, t.refunded, coalesce(r.total, 0), t.amount)
        FROM transactions t
        LEFT JOIN (SELECT refund_of, sum(amount) AS total FROM transactions
                   WHERE refund_of IS NOT NULL GROUP BY refund_of) r ON r.refund_of = t.id
        WHERE t.refunded <> coalesce(r.total, 0) OR t.refunded > t.amount
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
        "each wallet's events are numbered 1, 2, 3... and replay to its balance",
        """
        SELECT format('wallet %s: event_seq %s, balance %s; its %s event(s) number %s to %s,'
                      ' sum to %s and end at balance %s', w.id, w.event_seq, w.balance,
                      coalesce(e.n, 0), e.first, e.last, coalesce(e.total, 0), e.closing)
        FROM wallets w
        LEFT JOIN (SELECT wallet_id, count(*) AS n, min(seq) AS first, max(seq) AS last,
                          sum(amount) AS total,
                          (array_agg(balance ORDER BY seq DESC))[1] AS closing
                   FROM wallet_events GROUP BY wallet_id) e ON e.wallet_id = w.id
        WHERE coalesce(e.n, 0) <> w.event_seq OR coalesce(e.last, 0) <> w.event_seq
           OR coalesce(e.total, 0) <> w.balance OR coalesce(e.closing, 0) <> w.balance
        ORDER BY w.id
        """,
    ),
    (
        "each operation has its event",
        """
        SELECT format('operation %s of wallet %s (transaction %s, %s): no event of that amount',
                      o.id, o.wallet_id, o.transaction_id, o.amount)
        FROM wallet_operations o
        WHERE NOT EXISTS (SELECT FROM wallet_events e
                          WHERE e.transaction_id = o.transaction_id AND e.wallet_id = o.wallet_id
                            AND e.amount = o.amount)
        ORDER BY o.id
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
        "per currency, the balances total what was resupplied less what was withdrawn",
        """
        SELECT format('%s: balances total %s, but resupplies %s less withdrawals %s',
                      coalesce(b.currency, f.currency), coalesce(b.total, 0),
                      coalesce(f.resupplied, 0), coalesce(f.withdrawn, 0))
        FROM (SELECT currency, sum(balance) AS total FROM wallets GROUP BY currency) b
        FULL JOIN (SELECT currency,
                          coalesce(sum(amount) FILTER (WHERE kind = 'RESUPPLY'), 0) AS resupplied,
                          coalesce(sum(amount) FILTER (WHERE kind = 'WITHDRAWAL'), 0) AS withdrawn
                   FROM transactions GROUP BY currency) f ON f.currency = b.currency
        WHERE coalesce(b.total, 0) <> coalesce(f.resupplied, 0) - coalesce(f.withdrawn, 0)
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
            # It reads every row: the service's connections avoid sequential scans (see
            # db/engine.py), the audit is what they are for.
            await conn.execute(text("SET LOCAL enable_seqscan = on"))
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
