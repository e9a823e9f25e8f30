"""The one posting path: every money movement, and every hold, is posted by one statement.

An operation is a *plan*: the legs it wants, each a wallet with a signed change of its balance
(``delta``) and of what holds reserve on it (``hold_delta``). Transfers, splits, resupplies and
payouts give their legs as parameters; captures, voids and refunds derive them in SQL from the
hold or the transaction they act on (the ``subject``). One statement then, in a transaction of
its own (SERIALIZABLE, retried by ``Database.write``):

* looks up the idempotency key's earlier use (``earlier``);
* locks the plan's wallets in ascending id order (``locked``): two postings never wait for each
  other in a cycle, and SERIALIZABLE fails with 40001 rather than lock a row changed since its
  snapshot;
* reads the database clock once the locks are held (``clock``): hold expiry is judged at that
  instant, by every posting alike;
* checks every leg (``checked``, ``allowed``): the wallet exists (and, for a client token, is
  its own where money leaves it), all share one currency, each amount has at most the
  currency's decimals, no wallet's available balance (balance less unexpired holds) goes below
  zero, no balance reaches 10^18, the key is new, and the operation's own ``guard`` holds;
* unless it is a dry run, records the transaction, updates the wallets, writes one operation per
  wallet whose balance changed, one event per wallet it changed (``wallet_events``: the outbox
  of subscriptions and webhooks, numbered per wallet from ``wallets.event_seq`` while the row is
  locked, so in commit order without gaps) and remembers the key, all only if everything was
  allowed;
* marks EXPIRED the pending holds of its wallets whose expiry has passed, with a HOLD_EXPIRED
  event each, and takes them out of ``wallets.held``: nothing has to run for expiry to be exact
  (reads judge it by the clock); this, and the relay's sweep (``holds.expire_lapsed``), keep
  the stored state converging on it.

It answers one row per leg (or one row of nulls), in ascending wallet id, with everything the
caller needs to tell why nothing moved, or what it moved. CHECK constraints back every rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.db.database import Database
from billing.db.statements import Record, Statement, fetch
from billing.domain import idempotency
from billing.domain.access import Actor
from billing.domain.metadata import as_json
from billing.domain.money import BALANCE_BOUND, limit_of
from billing.domain.records import ClientRecord, HoldRecord, Posted, WalletRecord
from billing.errors import (
    BalanceLimitExceeded,
    CurrencyMismatch,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidInput,
    WalletNotFound,
)

ZERO = Decimal(0)
T = TypeVar("T")

# What holds reserve on wallet ``w`` at instant ``now``: its pending holds that have not expired.
# ``w.held`` counts every pending hold; while ``w.held_until`` (at most the earliest expiry among
# them) lies ahead, that is the answer without reading the holds. (A posting that finds it
# passed, "stale", expires those holds; see ``expired``.)
HELD = """CASE WHEN {w}.held = 0 OR {w}.held_until > {now} THEN {w}.held
     ELSE round(coalesce((SELECT sum(h.amount) FROM holds AS h
                          WHERE h.wallet_from_id = {w}.id AND h.status = 'PENDING'
                            AND h.expires_at > {now}), 0), {w}.exponent) END"""

# The plan of an operation that gives its legs as parameters (see ``Leg``).
GIVEN_LEGS = """
  plan AS (
    SELECT * FROM unnest(CAST(:wallets AS bigint[]), CAST(:deltas AS numeric[]),
                         CAST(:hold_deltas AS numeric[]), CAST(:references AS text[]),
                         CAST(:expiries AS timestamptz[]), CAST(:orders AS int[]))
      AS p (wallet_id, delta, hold_delta, reference, expires, ord)
  )"""

# The transaction's amount: what its credits add up to, what its debits do, or what it holds.
CREDITS = "(SELECT sum(delta) FROM checked WHERE delta > 0)"
DEBITS = "(SELECT -sum(delta) FROM checked WHERE delta < 0)"
HELD_CHANGE = "(SELECT abs(sum(hold_delta)) FROM checked)"


def statement(
    plan: str,
    *,
    kind: str,
    amount: str = CREDITS,
    guard: str = "true",
    subject: str = "NULL AS subject",
    before: str = "",
    after: str = "",
    hold: str = "NULL",
    refund_of: str = "NULL",
    record: bool = True,
) -> Statement:
    """The posting statement of one kind of operation (built once, at import).

    ``plan``: CTEs ending with ``plan`` (wallet_id, delta, hold_delta, reference, expires, ord);
    ``guard``: the operation's own condition; ``subject``: answer columns about what it acts
    on; ``before`` / ``after``: CTEs that write, before the transaction row (they may test
    ``allowed``) or after it (they may test ``recorded``); ``hold`` and ``refund_of``: SQL for
    the transaction's links. ``record=False``: a posting that moves nothing and records no
    transaction (the sweep that expires holds: ``holds.expire_lapsed``).
    """
    recorded = (
        f"""INSERT INTO transactions
      (number, kind, currency, amount, reference, metadata, parties, hold_id, refund_of)
    SELECT :number, '{kind}', (SELECT min(currency) FROM checked), {amount}, :reference,
           CAST(:metadata AS jsonb),
           (SELECT array_agg(DISTINCT client_id ORDER BY client_id) FROM checked),
           {hold}, {refund_of}
    WHERE EXISTS (SELECT FROM allowed) AND NOT :dry_run
    RETURNING id"""
        if record
        else "SELECT CAST(NULL AS bigint) AS id WHERE EXISTS (SELECT FROM allowed)"
    )
    return Statement(f"""
WITH
  earlier AS (
    SELECT request_hash, transaction_id FROM idempotency_keys
    WHERE CAST(:key AS text) IS NOT NULL AND caller = :caller AND key = :key
  ),{plan},
  locked AS (
    SELECT id, client_id, currency, exponent, balance, held, held_until, event_seq FROM wallets
    WHERE id = ANY (ARRAY(SELECT wallet_id FROM plan)) ORDER BY id FOR UPDATE
  ),
  clock AS (SELECT clock_timestamp() AS now, count(*) AS wallets FROM locked),
  checked AS (
    SELECT p.ord, p.wallet_id, p.reference, p.expires,
           l.id IS NOT NULL AND (CAST(:owner AS bigint) IS NULL OR l.client_id = :owner
                                 OR (p.delta >= 0 AND p.hold_delta <= 0)) AS found,
           l.client_id, l.currency, l.exponent, l.balance, l.event_seq,
           round(p.delta, l.exponent) AS delta, round(p.hold_delta, l.exponent) AS hold_delta,
           round(p.delta, l.exponent) = p.delta
             AND round(p.hold_delta, l.exponent) = p.hold_delta AS exact,
           {HELD.format(w="l", now="clock.now")} AS held,
           l.held > 0 AND NOT coalesce(l.held_until > clock.now, false) AS stale
    FROM plan AS p LEFT JOIN locked AS l ON l.id = p.wallet_id CROSS JOIN clock
  ),
  allowed AS (
    SELECT FROM checked
    HAVING count(*) > 0 AND bool_and(found) AND count(DISTINCT currency) = 1
       AND bool_and(exact) AND bool_and(balance + delta >= held + hold_delta)
       AND bool_and(balance + delta < {BALANCE_BOUND}) AND NOT EXISTS (SELECT FROM earlier)
       AND coalesce({guard}, false)
  ),{before}
  recorded AS (
    {recorded}
  ),
  expired AS (
    UPDATE holds AS h SET status = 'EXPIRED', resolved_at = h.expires_at
    FROM checked AS c
    WHERE c.stale AND h.wallet_from_id = c.wallet_id AND h.status = 'PENDING'
      AND h.expires_at <= (SELECT now FROM clock) AND EXISTS (SELECT FROM recorded)
    RETURNING h.id, h.wallet_from_id AS wallet_id, h.amount, h.expires_at, h.reference
  ),
  moved AS (
    UPDATE wallets AS w
    SET balance = w.balance + c.delta, held = c.held + c.hold_delta,
        held_until = CASE WHEN c.held + c.hold_delta = 0 THEN NULL
                          WHEN c.stale THEN least(c.expires, (
                            SELECT min(h.expires_at) FROM holds AS h
                            WHERE h.wallet_from_id = w.id AND h.status = 'PENDING'
                              AND h.expires_at > (SELECT now FROM clock)))
                          ELSE least(w.held_until, c.expires) END,
        event_seq = w.event_seq + (SELECT count(*) FROM expired AS e WHERE e.wallet_id = w.id)
                    + CASE WHEN c.delta <> 0 OR c.hold_delta <> 0 THEN 1 ELSE 0 END
    FROM checked AS c
    WHERE w.id = c.wallet_id AND (c.delta <> 0 OR c.hold_delta <> 0 OR c.stale)
      AND EXISTS (SELECT FROM recorded)
  ),
  legs AS (
    INSERT INTO wallet_operations
      (transaction_id, wallet_id, amount, balance_after, reference, created_at)
    SELECT recorded.id, c.wallet_id, c.delta, c.balance + c.delta, c.reference, clock_timestamp()
    FROM recorded, checked AS c WHERE c.delta <> 0
  ),
  events AS (
    INSERT INTO wallet_events (wallet_id, seq, kind, amount, held_change, balance, available,
                               transaction_id, hold_id, reference, created_at)
    SELECT e.wallet_id, c.event_seq + row_number() OVER w, 'HOLD_EXPIRED', 0, -e.amount,
           c.balance, c.balance - c.held - coalesce(sum(e.amount) OVER (w ROWS BETWEEN
             1 FOLLOWING AND UNBOUNDED FOLLOWING), 0), NULL, e.id, e.reference, e.expires_at
    FROM expired AS e JOIN checked AS c ON c.wallet_id = e.wallet_id
    WINDOW w AS (PARTITION BY e.wallet_id ORDER BY e.expires_at, e.id)
    UNION ALL
    SELECT c.wallet_id,
           c.event_seq + (SELECT count(*) FROM expired AS e WHERE e.wallet_id = c.wallet_id) + 1,
           '{kind}', c.delta, c.hold_delta, c.balance + c.delta,
           c.balance + c.delta - c.held - c.hold_delta, recorded.id, {hold}, c.reference,
           clock_timestamp()
    FROM recorded, checked AS c WHERE c.delta <> 0 OR c.hold_delta <> 0
  ),
  remembered AS (
    INSERT INTO idempotency_keys (caller, key, operation, request_hash, transaction_id)
    SELECT :caller, :key, :operation, :request_hash, recorded.id
    FROM recorded WHERE CAST(:key AS text) IS NOT NULL
  ){after}
SELECT (SELECT request_hash FROM earlier) AS earlier_hash,
       (SELECT transaction_id FROM earlier) AS earlier_transaction,
       (SELECT id FROM recorded) AS transaction_id,
       EXISTS (SELECT FROM allowed) AS allowed, clock.now, {subject},
       c.ord, c.wallet_id, c.found, c.client_id, c.currency, c.exponent, c.delta,
       c.hold_delta, c.exact, c.balance, c.held, c.reference, cl.login, cl.name
FROM clock LEFT JOIN checked AS c ON true
LEFT JOIN LATERAL (SELECT login, name FROM clients WHERE id = c.client_id OFFSET 0) AS cl ON true
ORDER BY c.wallet_id
""")


@dataclass(frozen=True, slots=True)
class Leg:
    """One wallet's part in a plan given as parameters."""

    wallet_id: int
    delta: Decimal  # signed change of the balance
    hold_delta: Decimal = ZERO  # change of what holds reserve on it
    field: str = "amount"  # the input field its amount came from, named in refusals
    reference: str | None = None
    expires: datetime | None = None  # a new hold's expiry, on its paying leg


def given(legs: Sequence[Leg]) -> dict[str, object]:
    """The parameters of ``GIVEN_LEGS``; the first leg is the paying one (ord 0)."""
    wallets, deltas, hold_deltas, references, expiries = zip(
        *((leg.wallet_id, leg.delta, leg.hold_delta, leg.reference, leg.expires) for leg in legs),
        strict=True,
    )
    return {
        "wallets": wallets,
        "deltas": deltas,
        "hold_deltas": hold_deltas,
        "references": references,
        "expiries": expiries,
        "orders": list(range(len(legs))),
    }


@dataclass(frozen=True, slots=True)
class Request:
    """What every posting takes besides its plan."""

    actor: Actor
    reference: str | None
    metadata: dict[str, str]
    idem: idempotency.Idempotency | None
    dry_run: bool
    number: uuid.UUID

    @property
    def key(self) -> idempotency.Idempotency | None:
        """The idempotency key the posting uses: none on a dry run."""
        return None if self.dry_run else self.idem


@dataclass(frozen=True, slots=True)
class Moved:
    """One leg as the statement found it and left it (or would leave it, on a dry run)."""

    ord: int
    wallet: WalletRecord  # after the posting
    delta: Decimal
    hold_delta: Decimal
    reference: str | None


@dataclass(slots=True)
class Answer:
    """The statement's answer."""

    head: Record  # earlier_hash, earlier_transaction, transaction_id, allowed, now, subject...
    rows: list[Record]  # one per leg, ascending wallet id
    _moved: list[Moved] | None = None

    @property
    def transaction_id(self) -> int | None:
        tid: int | None = self.head.transaction_id
        return tid

    @property
    def allowed(self) -> bool:
        return bool(self.head.allowed)

    def moved(self) -> list[Moved]:
        """The legs, by ord (the paying leg first), with their wallets after the posting."""
        if self._moved is None:
            self._moved = [
                Moved(
                    ord=r["ord"],
                    wallet=WalletRecord(
                        id=r["wallet_id"],
                        client_id=r["client_id"],
                        currency=r["currency"],
                        balance=r["balance"] + r["delta"],
                        held=r["held"] + r["hold_delta"],
                        owner=ClientRecord(id=r["client_id"], login=r["login"], name=r["name"]),
                    ),
                    delta=r["delta"],
                    hold_delta=r["hold_delta"],
                    reference=r["reference"],
                )
                for r in sorted(self.rows, key=lambda r: r["ord"])
            ]
        return self._moved


async def post(
    conn: AsyncConnection,
    posting: Statement,
    request: Request,
    parameters: Mapping[str, object],
) -> Answer:
    """Run one posting statement, on the driver itself (see billing.db.statements)."""
    idem = request.key
    values = {
        "owner": request.actor.owner_filter,
        "number": request.number,
        "reference": request.reference,
        "metadata": as_json(request.metadata),
        "dry_run": request.dry_run,
        "operation": None if idem is None else idem.operation,
        "caller": None if idem is None else idem.caller,
        "key": None if idem is None else idem.key,
        "request_hash": None if idem is None else idem.request_hash,
        **parameters,
    }
    found = await fetch(conn, posting, values)
    return Answer(head=found[0], rows=[r for r in found if r["wallet_id"] is not None])


def earlier(posted: Answer, request: Request) -> int | None:
    """The transaction the idempotency key already stands for (the statement then changed
    nothing); IdempotencyKeyReused if the key was used for another request."""
    idem = request.key
    if idem is None or posted.head.earlier_hash is None:
        return None
    if posted.head.earlier_hash != idem.request_hash:
        raise IdempotencyKeyReused(idem.key)
    tid: int = posted.head.earlier_transaction
    return tid


def refuse(posted: Answer, actor: Actor, fields: Mapping[int, str] | None = None) -> NoReturn:
    """Why the plan's legs were not allowed, checked in the order the module documents.

    ``fields``: the input field of each leg's amount, by ord (default: ``amount``).
    """
    rows = posted.rows
    for r in rows:
        if not r.found:
            raise WalletNotFound(r.wallet_id)
    payer = min(rows, key=lambda r: r.ord)
    for r in rows:
        if r.currency != payer.currency:
            raise CurrencyMismatch(r.wallet_id, r.currency, payer.currency)
    for r in sorted(rows, key=lambda r: (r.ord == 0, r.ord)):  # the payer's sum last
        if not r.exact:
            field = (fields or {}).get(r.ord, "amount")
            places = f"{r.exponent} decimal place{'' if r.exponent == 1 else 's'}"
            raise InvalidInput(field, f"{field} must have at most {places} in {r.currency}.")
    for r in rows:
        if r.balance + r.delta < r.held + r.hold_delta:
            raise InsufficientFunds(
                r.wallet_id, r.balance, r.hold_delta - r.delta, available=r.balance - r.held
            )
        if r.balance + r.delta >= BALANCE_BOUND:
            shown = r.balance if actor.may_see_client(r.client_id) else None
            raise BalanceLimitExceeded(r.wallet_id, limit_of(r.exponent), balance=shown)
    raise AssertionError("a posting that passed every check of its legs was not allowed")


async def run(
    db: Database,
    posting: Statement,
    request: Request,
    parameters: Mapping[str, object],
    *,
    locks: Iterable[int],
    done: Callable[[Answer], T],
    replay: Callable[[AsyncConnection, int], Awaitable[T]],
    check: Callable[[Answer], None] = lambda answer: None,
    fields: Mapping[int, str] | None = None,
) -> T:
    """Post in a transaction of its own (see ``Database.write``) and answer with ``done`` or,
    for a key used before, ``replay``. Refused: ``check`` raises the operation's own reason
    (about the hold or transaction it acts on), else ``refuse`` names the leg at fault."""

    async def work(conn: AsyncConnection) -> T:
        answer = await post(conn, posting, request, parameters)
        if (earlier_id := earlier(answer, request)) is not None:
            return await replay(conn, earlier_id)
        if not answer.allowed:
            check(answer)
            refuse(answer, request.actor, fields)
        return done(answer)

    key_lock = idempotency.lock(request.key)
    return await db.write(work, locks=locks, key_lock=key_lock, one_statement=True)


def posted(answer: Answer, request: Request, kind: str, amount: Decimal, **links: Any) -> Posted:
    """The answer of an allowed posting, as the caller may see it."""
    moved = answer.moved()
    return Posted(
        transaction_number=request.number,
        kind=kind,
        amount=amount,
        reference=request.reference,
        metadata=request.metadata,
        wallets=[_visible(request.actor, m.wallet) for m in moved],
        wallet_ids=[m.wallet.id for m in moved],
        leg_amounts=[m.delta for m in moved],
        leg_references=[m.reference for m in moved],
        dry_run=request.dry_run,
        **links,
    )


def _visible(actor: Actor, wallet: WalletRecord) -> WalletRecord | None:
    return wallet if actor.may_see_client(wallet.client_id) else None


_RECORDED = text("""
SELECT t.number, t.kind, t.amount, t.reference, t.metadata, t.hold_id,
       (SELECT r.number FROM transactions AS r WHERE r.id = t.refund_of) AS refund_of,
       (SELECT r.amount - r.refunded FROM transactions AS r WHERE r.id = t.refund_of)
         AS original_refundable,
       o.id AS operation_id, o.amount AS delta, o.balance_after, o.reference AS leg_reference,
       w.id AS wallet_id, w.client_id, w.currency, c.login, c.name
FROM transactions AS t
LEFT JOIN wallet_operations AS o ON o.transaction_id = t.id
LEFT JOIN wallets AS w ON w.id = o.wallet_id
LEFT JOIN clients AS c ON c.id = w.client_id
WHERE t.id = :id
""")


async def recorded(
    conn: AsyncConnection, transaction_id: int, actor: Actor, *, credited_first: bool = False
) -> Posted:
    """A transaction as the ledger holds it, answering a repeated request (``replayed``).

    Its wallets are shown as it left them: debited legs first (credited ones first with
    ``credited_first``), each in the order written. A hold's own transactions move no balance:
    they show the hold's wallets as they are now.
    """
    rows = (await conn.execute(_RECORDED, {"id": transaction_id})).all()
    head = rows[0]
    hold = None if head.hold_id is None else await hold_by_id(conn, head.hold_id)
    legs = sorted(
        (r for r in rows if r.operation_id is not None),
        key=lambda r: ((r.delta > 0) != credited_first, r.operation_id),
    )
    if legs:
        wallets: list[WalletRecord] = [
            WalletRecord(
                id=r.wallet_id,
                client_id=r.client_id,
                currency=r.currency,
                balance=r.balance_after,
                held=None,
                owner=ClientRecord(id=r.client_id, login=r.login, name=r.name),
            )
            for r in legs
        ]
        amounts = [r.delta for r in legs]
    else:
        assert hold is not None, "a transaction without legs belongs to a hold"
        wallets = await wallets_now(conn, [hold.wallet_from_id, hold.wallet_to_id])
        amounts = [ZERO, ZERO]
    return Posted(
        transaction_number=head.number,
        kind=head.kind,
        amount=head.amount,
        reference=head.reference,
        metadata=head.metadata,
        wallets=[_visible(actor, w) for w in wallets],
        wallet_ids=[w.id for w in wallets],
        leg_amounts=amounts,
        leg_references=[r.leg_reference for r in legs],
        hold=hold,
        expires_at=None if hold is None else hold.expires_at,
        refund_of=head.refund_of,
        remaining=head.original_refundable,
        replayed=True,
    )


HOLD_COLUMNS = """h.id, h.wallet_from_id, h.wallet_to_id, h.currency, h.amount, h.captured_amount,
       CASE WHEN h.status = 'PENDING' AND h.expires_at <= clock_timestamp() THEN 'EXPIRED'
            ELSE h.status END AS status,
       h.expires_at, h.reference, h.metadata, h.created_at, h.resolved_at"""


def hold_record(r: Row[Any]) -> HoldRecord:
    return HoldRecord(
        id=r.id,
        status=r.status,
        wallet_from_id=r.wallet_from_id,
        wallet_to_id=r.wallet_to_id,
        currency=r.currency,
        amount=r.amount,
        captured_amount=r.captured_amount,
        expires_at=r.expires_at,
        reference=r.reference,
        metadata=r.metadata,
        created_at=r.created_at,
        resolved_at=r.resolved_at,
    )


async def hold_by_id(conn: AsyncConnection, hold_id: int) -> HoldRecord | None:
    """A hold, its status as of now on the database's clock."""
    row = (
        await conn.execute(
            text(f"SELECT {HOLD_COLUMNS} FROM holds AS h WHERE h.id = :id"), {"id": hold_id}
        )
    ).one_or_none()
    return None if row is None else hold_record(row)


WALLET_COLUMNS = f"""w.id, w.client_id, w.currency, w.balance,
       {HELD.format(w="w", now="clock_timestamp()")} AS held"""


async def wallets_now(conn: AsyncConnection, ids: Sequence[int]) -> list[WalletRecord]:
    """Wallets as they are now, with what unexpired holds reserve, in the order asked."""
    rows = (
        await conn.execute(
            text(
                f"SELECT {WALLET_COLUMNS}, c.login, c.name FROM wallets AS w"
                " JOIN clients AS c ON c.id = w.client_id WHERE w.id = ANY(:ids)"
            ),
            {"ids": list(ids)},
        )
    ).all()
    found = {
        r.id: WalletRecord(
            id=r.id,
            client_id=r.client_id,
            currency=r.currency,
            balance=r.balance,
            held=r.held,
            owner=ClientRecord(id=r.client_id, login=r.login, name=r.name),
        )
        for r in rows
    }
    return [found[i] for i in ids]
