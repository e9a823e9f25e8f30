"""Model-based test: the ledger, driven over real HTTP, agrees with a pure-Python model.

A Hypothesis state machine creates clients and wallets in several currencies (USD, EUR, JPY
without decimals, KWD with three), credits, pays out, transfers and split-pays money, holds it
and captures (all or part), voids or lets expire those holds, refunds (all or part) what was
paid, tries each of these as a dry run, repeats requests and reads everything back through the
real HTTP stack (uvicorn on 127.0.0.1, see support/live_server.py), mixing valid requests with
invalid ones: unknown and malformed wallet ids, bad amounts and amounts with more decimals than
the currency has, metadata beyond its limits, wallets of another currency, overdrafts of what is
available, self-transfers, logins taken in another case, reused idempotency keys, holds that are
no longer pending, refunds above what remains, client tokens reaching for other clients' wallets
or for operator-only mutations. Each call's typed result must be exactly what the model
predicts, and after every step every wallet the API reports (balance, held, available) equals
the model's and, per currency, the balances add up to everything ever resupplied less
everything withdrawn, no wallet holds more than its balance and no transaction is refunded
above its amount.

Expiry is not waited for: a hold is made to expire by moving its ``expires_at`` into the past
in the database (``expire_a_hold``), after which it must read as EXPIRED and hold nothing.

The model is written from the documentation (docs/api.md), not from the code: money is exact
``Decimal``, ids are canonical decimal strings, and checks happen in the order the service applies
them (the model encodes that order so that it can predict which error comes first).
"""

from __future__ import annotations

import json
import re
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from billing.config import Settings
from billing.domain.audit import audit
from support.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow

T = TypeVar("T")

# Budget: about 20 s on two cores (each step is one or a few HTTP requests plus the invariant).
MODEL_SETTINGS = hypothesis_settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,  # HTTP round trips vary; speed is not what this test is about
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow],
)

# The documented rules, restated for the model.
MAX_AMOUNT = Decimal(10) ** 15
BALANCE_BOUND = Decimal(10) ** 18  # every balance stays below, in any currency
MAX_ID = 2**63 - 1
LOGIN_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._-")
OPERATORS = ("operator", "operator2")
# The currencies the test uses, with their decimals (ISO 4217); USD is the default.
CURRENCIES = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}
DEFAULT_CURRENCY = "USD"
UNKNOWN_CURRENCIES = ["QQQ", "usd", "US", ""]
CURRENCY_CODE = re.compile(r"[A-Z][A-Z0-9_]{2,11}")
MAX_SPLIT_LEGS = 100


def money(value: Decimal, exponent: int = 2) -> str:
    """Money as the API writes it: exactly the currency's decimals."""
    return f"{value:.{exponent}f}"


def limit(exponent: int) -> Decimal:
    """The largest balance a wallet may hold: one minor unit below 10^18."""
    return BALANCE_BOUND - Decimal(1).scaleb(-exponent)


def fits(value: Decimal, exponent: int) -> bool:
    """Whether a value has no more decimals than the currency (trailing zeros do not count)."""
    return value == value.quantize(Decimal(1).scaleb(-exponent))


def wallet_id_value(text: str) -> int | None:
    """The wallet id a string stands for: a canonical positive decimal within 64 bits."""
    if not (text.isascii() and text.isdigit()) or text.startswith("0"):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def login_is_valid(login: str) -> bool:
    return 3 <= len(login) <= 64 and set(login) <= LOGIN_CHARACTERS


# --- What is sent ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON value written into the request body as it is (a number, ``true``), not a string."""

    text: str


Wire = str | Raw | None

_RAW = "\x00raw\x00"
_RAW_IN_JSON = re.compile(r'"\\u0000raw\\u0000(.*?)\\u0000raw\\u0000"')


def encode(payload: dict[str, Any]) -> bytes:
    def default(value: object) -> str:
        if isinstance(value, Raw):
            return f"{_RAW}{value.text}{_RAW}"
        raise TypeError(f"cannot send {value!r}")

    text = json.dumps(payload, default=default)
    return _RAW_IN_JSON.sub(lambda m: m.group(1), text).encode()


@dataclass(frozen=True)
class Amount:
    wire: Wire
    value: Decimal | None  # what it stands for; None when the API must refuse it


@dataclass(frozen=True)
class WalletId:
    wire: Wire
    value: int | None  # None: malformed, not an id the API could ever return


@dataclass(frozen=True)
class Text:
    """An optional text input (a reference, an idempotency key) and whether it is acceptable."""

    wire: str | None
    valid: bool = True

    @property
    def stored(self) -> str | None:
        return self.wire or None  # an empty reference is no reference


@dataclass(frozen=True)
class Login:
    kind: str  # "given" (this text, valid or not) or "taken" (an existing login, recased)
    text: str = ""
    index: int = 0
    recase: str = "swapcase"


@dataclass(frozen=True)
class Name:
    text: str
    valid: bool

    @property
    def stored(self) -> str:
        return self.text.strip()


@dataclass(frozen=True)
class WalletRef:
    kind: str  # "known" (an existing wallet), "unknown" (never issued) or "raw" (this text)
    index: int = 0
    text: str = ""
    as_number: bool = False  # a JSON number rather than a string (ID accepts both)


@dataclass(frozen=True)
class CallerRef:
    kind: str  # "operator", "operator2" or "client"
    index: int = 0  # which client
    token: int = 0  # which of that client's tokens (keys are shared by a client's tokens)


@dataclass(frozen=True)
class Caller:
    token: str
    scope: str  # whose idempotency keys: per operator token, per client
    client_id: int | None  # None for operators

    def may_see(self, owner: int) -> bool:
        return self.client_id is None or self.client_id == owner


# --- Strategies -----------------------------------------------------------------------------


def weighted(*options: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """Choose a strategy with the given odds (``one_of`` would merge repeated branches).

    The first option is what shrinking leads to, so it is the valid, ordinary one.
    """
    branches = [strategy for weight, strategy in options for _ in range(weight)]
    return st.sampled_from(branches).flatmap(lambda strategy: strategy)


def spellings(value: Decimal, exponent: int = 2) -> list[str]:
    """The plain ways to write an amount: "5.50" and "5.5", "5.00", "5.0" and "5", and with
    a zero more than the currency has ("5.500", "1050.0" for yen): the same value."""
    exact = money(value, exponent)
    found = [exact]
    if "." in exact:
        shorter = exact
        while shorter.endswith("0"):
            shorter = shorter[:-1]
            found.append(shorter.removesuffix("."))
            if shorter.endswith("."):
                break
    found.append(f"{exact}0" if "." in exact else f"{exact}.0")
    return found


def spelled(value: Decimal) -> st.SearchStrategy[Amount]:
    texts = st.sampled_from(spellings(value))
    wires: st.SearchStrategy[Wire] = st.one_of(texts, texts.map(Raw))
    return wires.map(lambda wire: Amount(wire, value))


def cents(count: int) -> Decimal:
    return Decimal(count).scaleb(-2)


small_values = st.integers(1, 50_000).map(cents)
any_values = st.one_of(st.integers(1, 10**17).map(cents), st.just(MAX_AMOUNT))
valid_amounts = weighted((3, small_values), (1, any_values)).flatmap(spelled)
# Amounts that are numbers the API parses, whose decimals only some currencies have: yen
# (none) take "5" but not "5.5", dollars not "5.125", dinars (three) all of them.
whole_amounts = st.integers(1, 50_000).map(lambda n: Amount(str(n), Decimal(n)))
fine_amounts = st.integers(1, 500_000).map(
    lambda n: Amount(str(Decimal(n).scaleb(-3)), Decimal(n).scaleb(-3))
)


def refused(wire: st.SearchStrategy[str]) -> st.SearchStrategy[Amount]:
    """Amounts the API must refuse, sent as strings and as JSON numbers."""
    return st.one_of(wire.map(lambda t: Amount(t, None)), wire.map(lambda t: Amount(Raw(t), None)))


NOT_NUMBERS = [
    *("NaN", "Infinity", "-Infinity", "", " 5", "5 ", "05", "5.", ".5", "1,50", "1_000"),
    *("abc", "0x10", "\u0665", "\uff15"),  # Arabic-Indic and fullwidth digits are not digits here
]
invalid_amounts = st.one_of(
    refused(st.sampled_from(["0", "0.0", "0.00", "-0"])),  # zero
    refused(small_values.map(lambda v: f"-{money(v)}")),  # negative
    st.sampled_from(["+5", "+0.01"]).map(lambda t: Amount(t, None)),  # a sign
    refused(st.sampled_from(["0.000000001", "1.123456789"])),  # more decimals than any currency
    refused(  # exponents
        st.tuples(st.integers(1, 999), st.sampled_from("eE"), st.integers(-2, 12)).map(
            lambda t: f"{t[0]}{t[1]}{t[2]}"
        )
    ),
    refused(st.integers(10**17 + 1, 10**21).map(lambda n: money(cents(n)))),  # above 10^15
    st.sampled_from(NOT_NUMBERS).map(lambda t: Amount(t, None)),
    st.sampled_from(["true", "false"]).map(lambda t: Amount(Raw(t), None)),  # JSON booleans
)
amounts = weighted((6, valid_amounts), (1, whole_amounts), (1, fine_amounts), (1, invalid_amounts))

RAW_WALLET_IDS = [
    *("0", "-1", "01", "1.0", "1e3", "abc", "", " 1", "1 ", "+1", "\uff11", "\u0663"),
    *("9223372036854775807", "9223372036854775808", "99999999999999999999999"),
]
wallet_refs = weighted(
    (8, st.builds(WalletRef, st.just("known"), st.integers(0, 1000), as_number=st.booleans())),
    (1, st.builds(WalletRef, st.just("unknown"), st.integers(0, 2))),
    (1, st.builds(WalletRef, st.just("raw"), text=st.sampled_from(RAW_WALLET_IDS))),
)

OPERATOR = CallerRef("operator")
callers = weighted(
    (6, st.just(OPERATOR)),
    (1, st.just(CallerRef("operator2"))),
    (2, st.builds(CallerRef, st.just("client"), st.integers(0, 1000), st.integers(0, 1))),
)

# With a letter, so that a login recased is a different string that must still be taken.
fresh_logins = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{2,11}", fullmatch=True)
INVALID_LOGINS = [
    *("", "a", "ab", "x" * 65, "with space", "semi;colon", "at@sign", "slash/"),
    *("\u00e9mile", "\uff21BC", "tab\tx", "\u212aelvin", "Ivan\u043e"),
]
logins = weighted(
    (4, fresh_logins.map(lambda text: Login("given", text))),
    (1, st.just(Login("given", "L" * 64))),
    (
        2,
        st.builds(
            Login,
            kind=st.just("taken"),
            index=st.integers(0, 1000),
            recase=st.sampled_from(["swapcase", "swapcase", "upper", "lower", "same"]),
        ),
    ),
    (1, st.sampled_from(INVALID_LOGINS).map(lambda text: Login("given", text))),
)

NAME_CHARACTERS = "abcxyzABCXYZ\u0416\u0436\u042f\u044f\u0418\u0432\u0430\u043d -'."
EDGE_NAMES = [
    Name("", valid=False),
    Name("   ", valid=False),
    Name("x" * 201, valid=False),
    Name(" " + "y" * 200 + " ", valid=True),  # trimmed to 200
    Name("a\tb", valid=False),
    Name("line\nbreak", valid=False),
    Name("\u202eevil", valid=False),  # a bidirectional override
    Name("a\u2028b", valid=False),  # a line separator
]
valid_names = (
    st.text(NAME_CHARACTERS, min_size=1, max_size=12)
    .filter(str.strip)
    .map(lambda t: Name(t, valid=True))
)
names = weighted(
    (6, st.text(NAME_CHARACTERS, min_size=1, max_size=12).map(lambda t: Name(t, bool(t.strip())))),
    (1, st.sampled_from(EDGE_NAMES)),
)

VALID_KEYS = ["k1", "k2", "k3", "\u043a\u043b\u044e\u0447-4", "k" * 255]
INVALID_KEYS = ["", "x" * 256, "tab\there", "new\nline"]
keys = weighted(
    (5, st.just(Text(None))),
    (4, st.sampled_from(VALID_KEYS).map(Text)),
    (1, st.sampled_from(INVALID_KEYS).map(lambda k: Text(k, valid=False))),
)
VALID_REFERENCES = ["", "order-1", "\u0437\u0430\u043a\u0430\u0437 \u21167", "r" * 255]
references = weighted(
    (6, st.just(Text(None))),
    (3, st.sampled_from(VALID_REFERENCES).map(Text)),
    (1, st.sampled_from(["r" * 256, "bad\nref", "\u202eref"]).map(lambda r: Text(r, False))),
)


@dataclass(frozen=True)
class Meta:
    """Metadata as sent (None: not sent) and what the API must make of it: the object it
    stores, or the field its InvalidInput names."""

    wire: Any
    refused: str | None = None

    @property
    def stored(self) -> dict[str, str]:
        assert self.refused is None
        return dict(self.wire or {})

    @property
    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.stored.items()))


FIFTY = {f"key{i:02d}": "v" for i in range(50)}
VALID_METADATA = [
    Meta({}),
    Meta({"order": "42"}),
    Meta(
        {
            "order": "43",
            "\u043a\u043b\u044e\u0447": "\u0437\u043d\u0430\u0447\u0435\u043d\u0438\u0435",
        }
    ),
    Meta({"k" * 40: "v" * 500}),  # the longest key and value
    Meta({"empty": ""}),
    Meta(FIFTY),  # the most keys
]
INVALID_METADATA = [
    Meta({"k" * 41: "v"}, refused="metadata." + "k" * 41),
    Meta({"note": "v" * 501}, refused="metadata.note"),
    Meta({"count": Raw("5")}, refused="metadata.count"),  # values are strings
    Meta({"flag": Raw("true")}, refused="metadata.flag"),
    Meta({"nested": {"a": "b"}}, refused="metadata.nested"),
    Meta({"": "x"}, refused="metadata."),
    Meta({**FIFTY, "one-more": "v"}, refused="metadata"),
]
metadatas = weighted(
    (6, st.just(Meta(None))),
    (3, st.sampled_from(VALID_METADATA)),
    (1, st.sampled_from(INVALID_METADATA)),
)
dry_runs = weighted((4, st.just(False)), (1, st.just(True)))
currencies = weighted(
    (3, st.sampled_from(sorted(CURRENCIES))), (1, st.sampled_from(UNKNOWN_CURRENCIES))
)


# --- GraphQL documents ----------------------------------------------------------------------

# Fuller than support.documents: whole results are checked, replays and permissions included.
ERRORS = """
    ... on Error { code message }
    ... on InvalidInput { field }
    ... on WalletNotFound { walletId }
    ... on ClientNotFound { clientId }
    ... on CurrencyMismatch { walletId currency expected }
    ... on InsufficientFunds { walletId balance available requested }
    ... on BalanceLimitExceeded { walletId limit }
    ... on HoldNotFound { holdId }
    ... on HoldNotPending { holdId holdStatus }
    ... on HoldExpired { holdId }
    ... on TransactionNotFound { transactionNumber }
    ... on RefundExceedsRemaining { transactionNumber remaining requested }
    ... on IdempotencyKeyReused { idempotencyKey }
    ... on PermissionDenied { operation }
"""
# Each error type that a result union cannot contain must be left out of its document (GraphQL
# refuses fragments on types outside the union), so each mutation lists its own.
ERROR_TYPES = {
    "createClient": ["InvalidInput", "LoginTaken", "IdempotencyKeyReused", "PermissionDenied"],
    "createWallet": ["InvalidInput", "ClientNotFound", "IdempotencyKeyReused"],
    "resupply": [
        "InvalidInput",
        "WalletNotFound",
        "BalanceLimitExceeded",
        "IdempotencyKeyReused",
        "PermissionDenied",
    ],
    "withdraw": [
        "InvalidInput",
        "WalletNotFound",
        "InsufficientFunds",
        "IdempotencyKeyReused",
        "PermissionDenied",
    ],
    "transfer": [
        "InvalidInput",
        "WalletNotFound",
        "CurrencyMismatch",
        "InsufficientFunds",
        "BalanceLimitExceeded",
        "IdempotencyKeyReused",
    ],
    "splitTransfer": [
        "InvalidInput",
        "WalletNotFound",
        "CurrencyMismatch",
        "InsufficientFunds",
        "BalanceLimitExceeded",
        "IdempotencyKeyReused",
    ],
    "holdTransfer": [
        "InvalidInput",
        "WalletNotFound",
        "CurrencyMismatch",
        "InsufficientFunds",
        "IdempotencyKeyReused",
    ],
    "captureHold": [
        "InvalidInput",
        "HoldNotFound",
        "HoldNotPending",
        "HoldExpired",
        "BalanceLimitExceeded",
        "IdempotencyKeyReused",
        "PermissionDenied",
    ],
    "voidHold": [
        "InvalidInput",
        "HoldNotFound",
        "HoldNotPending",
        "HoldExpired",
        "IdempotencyKeyReused",
        "PermissionDenied",
    ],
    "refund": [
        "InvalidInput",
        "TransactionNotFound",
        "RefundExceedsRemaining",
        "InsufficientFunds",
        "BalanceLimitExceeded",
        "IdempotencyKeyReused",
    ],
}
ERROR_FRAGMENTS = {
    line.split()[2]: line.strip() for line in ERRORS.strip().splitlines() if "on Error" not in line
}
ERROR_FRAGMENTS["LoginTaken"] = "... on LoginTaken { login }"


def mutation(name: str, input_type: str, success: str) -> str:
    errors = "\n    ".join(ERROR_FRAGMENTS[t] for t in ERROR_TYPES[name])
    return f"""
mutation Call($input: {input_type}!) {{
  {name}(input: $input) {{
    __typename
    {success}
    ... on Error {{ code message }}
    {errors}
  }}
}}
"""


HOLD_FIELDS = """
  id status amount capturedAmount currency walletFromId walletToId reference metadata expiresAt
  transactions { number kind }
"""
MONEY_WALLET = "{ id balance }"
HELD_WALLET = "{ id currency balance held available }"

CREATE_CLIENT = mutation(
    "createClient",
    "CreateClientInput",
    "... on CreateClientSuccess {"
    " client { id login name } wallet { id currency balance held available } replayed }",
)
CREATE_WALLET = mutation(
    "createWallet",
    "CreateWalletInput",
    f"... on CreateWalletSuccess {{ wallet {HELD_WALLET} replayed }}",
)
RESUPPLY = mutation(
    "resupply",
    "ResupplyInput",
    "... on ResupplySuccess { walletId amount transactionNumber walletBalance"
    f" wallet {MONEY_WALLET} reference metadata dryRun replayed }}",
)
WITHDRAW = mutation(
    "withdraw",
    "WithdrawInput",
    "... on WithdrawSuccess { walletId amount transactionNumber walletBalance"
    f" wallet {MONEY_WALLET} reference metadata dryRun replayed }}",
)
TRANSFER = mutation(
    "transfer",
    "TransferInput",
    "... on TransferSuccess { walletFromId walletToId amount transactionNumber"
    f" walletFromBalance walletToBalance walletFrom {MONEY_WALLET} walletTo {MONEY_WALLET}"
    " reference metadata dryRun replayed }",
)
SPLIT = mutation(
    "splitTransfer",
    "SplitTransferInput",
    "... on SplitTransferSuccess { transactionNumber amount walletFrom"
    f" {MONEY_WALLET} walletFromBalance legs {{ walletToId amount reference walletTo"
    f" {MONEY_WALLET} }} reference metadata dryRun replayed }}",
)
HOLD = mutation(
    "holdTransfer",
    "HoldTransferInput",
    f"... on HoldTransferSuccess {{ hold {{ {HOLD_FIELDS} }} walletFrom {HELD_WALLET}"
    " amount expiresAt transactionNumber dryRun replayed }",
)
CAPTURE = mutation(
    "captureHold",
    "CaptureHoldInput",
    f"... on CaptureHoldSuccess {{ hold {{ {HOLD_FIELDS} }} transactionNumber amount"
    f" walletFrom {MONEY_WALLET} walletTo {MONEY_WALLET} dryRun replayed }}",
)
VOID = mutation(
    "voidHold",
    "VoidHoldInput",
    f"... on VoidHoldSuccess {{ hold {{ {HOLD_FIELDS} }} amount transactionNumber"
    f" walletFrom {HELD_WALLET} dryRun replayed }}",
)
REFUND = mutation(
    "refund",
    "RefundInput",
    "... on RefundSuccess { transactionNumber refundOf amount remaining"
    f" walletTo {MONEY_WALLET} walletsFrom {{ walletId amount wallet {MONEY_WALLET} }}"
    " reference metadata dryRun replayed }",
)

WALLET = """
query Wallet($id: ID!) {
  wallet(id: $id) { id currency balance held available client { id login name } }
}
"""
CLIENT = """
query Client($id: ID!) { client(id: $id) { id login name wallets { id currency balance } } }
"""
HOLD_READ = f"query Hold($id: ID!) {{ hold(id: $id) {{ {HOLD_FIELDS} }} }}"
WALLET_HOLDS = """
query Holds($id: ID!, $status: HoldStatus) {
  wallet(id: $id) { holds(status: $status, first: 100) { id status } }
}
"""
TRANSACTION = """
query Transaction($number: UUID!) {
  transaction(number: $number) {
    number kind amount currency reference metadata refundable
    refundOf { number } refunds { number } hold { id }
    legs { transactionNumber kind amount balanceAfter counterpartyWalletId wallet { id } }
  }
}
"""
HISTORY = """
query History($id: ID!, $first: Int!, $after: String) {
  wallet(id: $id) {
    operations(first: $first, after: $after) {
      edges {
        cursor
        node {
          transactionNumber kind amount balanceAfter reference
          counterpartyWalletId counterpartyWallet { id }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
SUMMARY = """
ledgerSummary {
  currencies { currency wallets totalBalance totalHeld totalResupplied totalWithdrawn }
}
"""
BALANCES_PER_REQUEST = 14  # the service allows 15 aliases per document


def failure(typename: str, code: str, **fields: Any) -> dict[str, Any]:
    """A typed error result as the documents above select it."""
    return {"__typename": typename, "code": code, **fields}


def invalid(field_name: str) -> dict[str, Any]:
    return failure("InvalidInput", "INVALID_INPUT", field=field_name)


def wallet_not_found(wallet_id: int) -> dict[str, Any]:
    # The whole answer, message included: another client's wallet must read exactly like this.
    return failure(
        "WalletNotFound",
        "WALLET_NOT_FOUND",
        walletId=str(wallet_id),
        message=f"Wallet {wallet_id} does not exist.",
    )


def permission_denied(operation: str) -> dict[str, Any]:
    return failure("PermissionDenied", "PERMISSION_DENIED", operation=operation)


def key_reused(key: str) -> dict[str, Any]:
    return failure("IdempotencyKeyReused", "IDEMPOTENCY_KEY_REUSED", idempotencyKey=key)


# --- The model ------------------------------------------------------------------------------


@dataclass
class Operation:
    transaction_number: str
    kind: str  # RESUPPLY, WITHDRAWAL, TRANSFER_IN/OUT, CAPTURE_IN/OUT, REFUND_IN/OUT
    amount: Decimal  # signed
    balance_after: Decimal
    counterparty: int | None
    reference: str | None


@dataclass
class Wallet:
    id: int
    client_id: int
    currency: str = DEFAULT_CURRENCY
    balance: Decimal = Decimal(0)
    history: list[Operation] = field(default_factory=list)  # oldest first

    @property
    def exponent(self) -> int:
        return CURRENCIES[self.currency]

    def money(self, value: Decimal) -> str:
        return money(value, self.exponent)


@dataclass
class Client:
    id: int
    login: str
    name: str
    wallet_ids: list[int]


@dataclass
class Hold:
    id: int
    payer: int
    payee: int
    currency: str
    amount: Decimal
    reference: str | None
    metadata: dict[str, str]
    expires_at: str
    status: str = "PENDING"  # as stored: PENDING, CAPTURED or VOIDED
    expired: bool = False  # moved into the past by the test
    captured: Decimal | None = None
    transactions: list[tuple[str, str]] = field(default_factory=list)  # (number, kind)

    @property
    def shown_status(self) -> str:
        return "EXPIRED" if self.status == "PENDING" and self.expired else self.status

    @property
    def holding(self) -> bool:
        return self.shown_status == "PENDING"


@dataclass
class Transaction:
    number: str
    kind: str  # RESUPPLY, WITHDRAWAL, TRANSFER, SPLIT, CAPTURE, REFUND
    amount: Decimal
    currency: str
    reference: str | None
    metadata: dict[str, str]
    legs: list[tuple[int, Operation]]  # (wallet, operation) as written
    payer: int | None = None  # the wallet a refund credits
    # The wallets that received it, in leg order, with what each received: a refund takes
    # from them in this order.
    received: list[tuple[int, Decimal]] = field(default_factory=list)
    refunded: list[Decimal] = field(default_factory=list)  # per receiving leg
    refund_of: str | None = None
    refunds: list[str] = field(default_factory=list)
    hold: int | None = None

    @property
    def refundable(self) -> Decimal:
        if self.kind not in REFUNDABLE:
            return Decimal(0)
        return self.amount - sum(self.refunded, Decimal(0))


REFUNDABLE = ("TRANSFER", "SPLIT", "CAPTURE")
NONE = (Text(None), Text(None))  # no reference, no idempotency key
SPLIT_FLAWS = ("repeated", "payer", "currency", "missing", "amount", "fine", "no legs", "too many")


@dataclass(frozen=True)
class Leg:
    """One wallet's part in a posting: the change of its balance and of what holds reserve on
    it, and the input field its amount came from (named when its decimals do not fit)."""

    wallet: int
    delta: Decimal
    hold_delta: Decimal = Decimal(0)
    field: str = "amount"


@dataclass(frozen=True)
class Sent:
    """A mutation as it was sent, to send again."""

    kind: str  # the mutation's name
    caller: CallerRef
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Remembered:
    fingerprint: tuple[object, ...]
    result: dict[str, Any]  # the answer to the request that stored the key
    sent: Sent  # that request
    hold: int | None = None  # the hold it created or resolved (replays show it as it is now)


class LedgerMachine(RuleBasedStateMachine):
    server: ClassVar[LiveServer]
    http: ClassVar[httpx.Client]

    def __init__(self) -> None:
        super().__init__()
        self.server.reset()  # every example starts from an empty ledger, ids from 1
        self.server.truncate("holds")
        self.operator_tokens = {name: self.server.token() for name in OPERATORS}
        self.client_tokens: dict[tuple[int, int], str] = {}
        self.clients: dict[int, Client] = {}
        self.wallets: dict[int, Wallet] = {}
        self.holds: dict[int, Hold] = {}
        self.transactions: dict[str, Transaction] = {}
        self.keys: dict[tuple[str, str], Remembered] = {}
        self.resupplied = {currency: Decimal(0) for currency in CURRENCIES}
        self.withdrawn = {currency: Decimal(0) for currency in CURRENCIES}
        self.highest_wallet = 0
        self.highest_client = 0
        self.highest_hold = 0
        self.sent: list[Sent] = []
        self.transactions_without_legs: set[str] = set()  # HOLD and VOID

    async def move_expiry_into_the_past(self, hold_id: int) -> None:
        """What the passing of time does to a hold: its expiry lies behind the database's
        clock. The wallet's ``held_until`` (at most the earliest expiry of its holds, see
        billing.domain.posting) moves with it, as it would for a hold made to expire then."""
        async with self.server.app.state.db.engine.begin() as conn:
            row = (
                await conn.execute(
                    text(
                        "UPDATE holds SET expires_at = clock_timestamp() - interval '1 second'"
                        " WHERE id = :id RETURNING wallet_from_id, expires_at"
                    ),
                    {"id": hold_id},
                )
            ).one()
            await conn.execute(
                text("UPDATE wallets SET held_until = least(held_until, :at) WHERE id = :wallet"),
                {"at": row.expires_at, "wallet": row.wallet_from_id},
            )

    # --- talking to the service

    def caller(self, ref: CallerRef) -> Caller:
        if ref.kind == "client" and self.clients:
            client_id = sorted(self.clients)[ref.index % len(self.clients)]
            key = (client_id, ref.token)
            if key not in self.client_tokens:
                self.client_tokens[key] = self.server.token(client_id)
            return Caller(self.client_tokens[key], f"client:{client_id}", client_id)
        name = ref.kind if ref.kind in OPERATORS else "operator"  # (no client yet: an operator)
        return Caller(self.operator_tokens[name], name, None)

    def stable(self, ref: CallerRef) -> CallerRef:
        """The same caller, named so that it stays the same as clients are added."""
        if ref.kind != "client" or not self.clients:
            return ref
        return CallerRef("client", ref.index % len(self.clients), ref.token)

    def owner_ref(self, wallet: Wallet, token: int = 0) -> CallerRef:
        return CallerRef("client", sorted(self.clients).index(wallet.client_id), token)

    def call(self, caller: Caller, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST a document; it must be answered (200) without GraphQL errors."""
        response = self.http.post(
            self.server.url,
            content=encode({"query": document, "variables": variables}),
            headers={
                "Authorization": f"Bearer {caller.token}",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def mutate(
        self, caller: Caller, document: str, name: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.call(caller, document, {"input": payload})[name]
        return result

    def wallet_id(self, ref: WalletRef) -> WalletId:
        if ref.kind == "raw":
            return WalletId(ref.text, wallet_id_value(ref.text))
        if ref.kind == "known" and self.wallets:
            value = sorted(self.wallets)[ref.index % len(self.wallets)]
        else:  # an id no wallet has ever had
            value = self.highest_wallet + 1 + ref.index
        return WalletId(Raw(str(value)) if ref.as_number else str(value), value)

    def known(self, wallet_id: int) -> WalletId:
        return WalletId(str(wallet_id), wallet_id)

    def login(self, ref: Login) -> tuple[str, bool]:
        if ref.kind == "taken" and self.clients:
            taken = list(self.clients.values())[ref.index % len(self.clients)].login
            recased = {"swapcase": taken.swapcase(), "upper": taken.upper(), "lower": taken.lower()}
            return recased.get(ref.recase, taken), True
        if ref.kind == "taken":
            return "nobody-yet", True
        return ref.text, login_is_valid(ref.text)

    def check(self, expected: dict[str, Any], actual: dict[str, Any]) -> None:
        """An answer against the prediction; an error's message only where the model knows it."""
        if "message" in expected or "code" not in expected:
            assert actual == expected
            return
        message = actual.get("message")
        assert isinstance(message, str)
        assert message
        assert {k: v for k, v in actual.items() if k != "message"} == expected

    def replay_or_reused(
        self, caller: Caller, key: Text, fingerprint: tuple[object, ...], dry_run: bool = False
    ) -> dict[str, Any] | None:
        """What a key already used by this caller answers: the first result, or a refusal. A
        dry run uses no key at all."""
        if key.wire is None or dry_run:
            return None
        remembered = self.keys.get((caller.scope, key.wire))
        if remembered is None:
            return None
        if remembered.fingerprint != fingerprint:
            return key_reused(key.wire)
        result = {**remembered.result, "replayed": True}
        if remembered.sent.kind == "refund":  # what remains refundable now
            original = self.transactions[result["refundOf"]]
            result["remaining"] = money(original.refundable, CURRENCIES[original.currency])
        if remembered.hold is not None:
            # The hold as it is now; a hold's own transactions move no balance, so its
            # replay shows the paying wallet as it is now too.
            hold = self.holds[remembered.hold]
            result["hold"] = self.shown_hold(hold)
            if remembered.sent.kind in ("holdTransfer", "voidHold"):
                result["walletFrom"] = self.held_wallet(self.wallets[hold.payer])
            if remembered.sent.kind == "holdTransfer":  # (moved by expire_a_hold)
                result["expiresAt"] = hold.expires_at
        return result

    def remember(
        self,
        caller: Caller,
        key: Text,
        fingerprint: tuple[object, ...],
        result: dict[str, Any],
        hold: int | None = None,
    ) -> None:
        if key.wire is not None:
            self.keys[caller.scope, key.wire] = Remembered(fingerprint, result, self.sent[-1], hold)

    def new_transaction_number(self, result: dict[str, Any]) -> str:
        number = result.get("transactionNumber")
        assert isinstance(number, str), result
        assert str(uuid.UUID(number)) == number
        assert number not in self.transactions
        return number

    def never_recorded(self, number: str) -> None:
        """A dry run's transaction number is recorded nowhere."""
        found = self.call(self.caller(OPERATOR), TRANSACTION, {"number": number})
        assert found == {"transaction": None}

    def new_id(self, value: object, highest: int) -> int:
        """An id the API has just issued: canonical, and above every id it issued before."""
        assert isinstance(value, str)
        parsed = wallet_id_value(value)
        assert parsed is not None
        assert parsed > highest
        return parsed

    def held(self, wallet: Wallet) -> Decimal:
        """What unexpired pending holds reserve on a wallet."""
        return sum(
            (h.amount for h in self.holds.values() if h.payer == wallet.id and h.holding),
            Decimal(0),
        )

    def held_wallet(
        self, wallet: Wallet, delta: Decimal = Decimal(0), hold_delta: Decimal = Decimal(0)
    ) -> dict[str, Any]:
        """A wallet with what it holds, as it is (or as a posting would leave it)."""
        balance, held = wallet.balance + delta, self.held(wallet) + hold_delta
        return {
            "id": str(wallet.id),
            "currency": wallet.currency,
            "balance": wallet.money(balance),
            "held": wallet.money(held),
            "available": wallet.money(balance - held),
        }

    def shown_hold(
        self, hold: Hold, status: str | None = None, captured: Decimal | None = None
    ) -> dict[str, Any]:
        """A hold as the model has it (or, for a dry run, as it would be resolved)."""
        exponent = CURRENCIES[hold.currency]
        captured = captured if captured is not None else hold.captured
        return {
            "id": str(hold.id),
            "status": status or hold.shown_status,
            "amount": money(hold.amount, exponent),
            "capturedAmount": None if captured is None else money(captured, exponent),
            "currency": hold.currency,
            "walletFromId": str(hold.payer),
            "walletToId": str(hold.payee),
            "reference": hold.reference,
            "metadata": hold.metadata,
            "expiresAt": hold.expires_at,
            "transactions": [{"number": n, "kind": k} for n, k in hold.transactions],
        }

    @staticmethod
    def extras(reference: Text, metadata: Meta, key: Text) -> dict[str, Any] | None:
        """What every money-moving mutation checks after its own input, in this order."""
        if not reference.valid:
            return invalid("reference")
        if metadata.refused is not None:
            return invalid(metadata.refused)
        if not key.valid:
            return invalid("idempotencyKey")
        return None

    def refusal(self, caller: Caller, legs: list[Leg]) -> dict[str, Any] | None:
        """Why a posting of these legs (the paying one first) is refused, in the order of the
        one posting path: every wallet exists (and, where money leaves it, is the client's
        own), all share the paying wallet's currency, each amount fits its decimals (the paying
        leg, whose amount is the others' sum, last), and then,
        wallet by wallet in ascending id, what is available covers what leaves it and no
        balance reaches 10^18."""
        by_id = {leg.wallet: leg for leg in legs}
        for wallet_id in sorted(by_id):
            leg = by_id[wallet_id]
            wallet = self.wallets.get(wallet_id)
            pays = leg.delta < 0 or leg.hold_delta > 0
            if wallet is None or (pays and not caller.may_see(wallet.client_id)):
                return wallet_not_found(wallet_id)
        expected = self.wallets[legs[0].wallet].currency
        for wallet_id in sorted(by_id):
            currency = self.wallets[wallet_id].currency
            if currency != expected:
                return failure(
                    "CurrencyMismatch",
                    "CURRENCY_MISMATCH",
                    walletId=str(wallet_id),
                    currency=currency,
                    expected=expected,
                    message=f"Wallet {wallet_id} holds {currency}, not {expected}; money moves"
                    " only between wallets of one currency.",
                )
        for leg in [*legs[1:], legs[0]]:  # the paying leg's sum last: a leg is named first
            exponent = self.wallets[leg.wallet].exponent
            if not (fits(leg.delta, exponent) and fits(leg.hold_delta, exponent)):
                return invalid(leg.field)
        for wallet_id in sorted(by_id):
            leg, wallet = by_id[wallet_id], self.wallets[wallet_id]
            held = self.held(wallet)
            if wallet.balance + leg.delta < held + leg.hold_delta:
                return self.insufficient(wallet, held, leg.hold_delta - leg.delta)
            if wallet.balance + leg.delta >= BALANCE_BOUND:
                return failure(
                    "BalanceLimitExceeded",
                    "BALANCE_LIMIT_EXCEEDED",
                    walletId=str(wallet_id),
                    limit=wallet.money(limit(wallet.exponent)),
                )
        return None

    @staticmethod
    def insufficient(wallet: Wallet, held: Decimal, requested: Decimal) -> dict[str, Any]:
        balance, available = wallet.money(wallet.balance), wallet.money(wallet.balance - held)
        asked = wallet.money(requested)
        if held == 0:
            message = f"Wallet {wallet.id} holds {balance}, less than the {asked} requested."
        else:
            message = (
                f"Wallet {wallet.id} has {available} available (of {balance}; holds reserve"
                f" the rest), less than the {asked} requested."
            )
        return failure(
            "InsufficientFunds",
            "INSUFFICIENT_FUNDS",
            walletId=str(wallet.id),
            balance=balance,
            available=available,
            requested=asked,
            message=message,
        )

    def record(
        self,
        number: str,
        kind: str,
        amount: Decimal,
        reference: str | None,
        metadata: dict[str, str],
        moves: list[tuple[Wallet, str, Decimal, int | None, str | None]],
        **links: Any,
    ) -> Transaction:
        """Apply a posting to the model: per wallet (kind of operation, signed amount,
        counterparty, reference), in the order the API lists the legs."""
        legs = []
        for wallet, op_kind, delta, counterparty, op_reference in moves:
            wallet.balance += delta
            op = Operation(number, op_kind, delta, wallet.balance, counterparty, op_reference)
            wallet.history.append(op)
            legs.append((wallet.id, op))
        currency = moves[0][0].currency
        transaction = Transaction(
            number, kind, amount, currency, reference, metadata, legs, **links
        )
        transaction.refunded = [Decimal(0)] * len(transaction.received)
        self.transactions[number] = transaction
        return transaction

    # --- the operations

    def create_client(
        self, ref: CallerRef, login_ref: Login, name: Name, key: Text, currency: str | None = None
    ) -> None:
        caller = self.caller(ref)
        login, login_valid = self.login(login_ref)
        fingerprint: tuple[object, ...] = (
            "createClient",
            login,
            name.stored,
            currency or DEFAULT_CURRENCY,
        )
        expected: dict[str, Any] | None
        if caller.client_id is not None:
            expected = permission_denied("createClient")
        elif not login_valid:
            expected = invalid("login")
        elif not name.valid:
            expected = invalid("name")
        elif currency is not None and not CURRENCY_CODE.fullmatch(currency):
            expected = invalid("currency")
        elif not key.valid:
            expected = invalid("idempotencyKey")
        elif found := self.replay_or_reused(caller, key, fingerprint):
            expected = found
        elif login.lower() in {c.login.lower() for c in self.clients.values()}:
            expected = failure("LoginTaken", "LOGIN_TAKEN", login=login)
        elif currency is not None and currency not in CURRENCIES:
            expected = invalid("currency")  # well formed, but no such currency
        else:
            expected = None
        payload = {"login": login, "name": name.text, "idempotencyKey": key.wire}
        if currency is not None:
            payload["currency"] = currency
        result = self.mutate(caller, CREATE_CLIENT, "createClient", payload)
        self.sent.append(
            Sent("createClient", self.stable(ref), (Login("given", login), name, key, currency))
        )
        if expected is not None:
            self.check(expected, result)
            return
        assert result.get("__typename") == "CreateClientSuccess", result
        client_id = self.new_id(result["client"]["id"], self.highest_client)
        wallet_id = self.new_id(result["wallet"]["id"], self.highest_wallet)
        wallet = Wallet(wallet_id, client_id, currency or DEFAULT_CURRENCY)
        self.check(
            {
                "__typename": "CreateClientSuccess",
                "client": {"id": str(client_id), "login": login, "name": name.stored},
                "wallet": self.held_wallet(wallet),
                "replayed": False,
            },
            result,
        )
        self.clients[client_id] = Client(client_id, login, name.stored, [wallet_id])
        self.wallets[wallet_id] = wallet
        self.highest_client, self.highest_wallet = client_id, wallet_id
        self.remember(caller, key, fingerprint, result)

    def create_wallet(self, ref: CallerRef, client: WalletId, currency: str, key: Text) -> None:
        """A client's wallet in a currency (an operator for anyone, a client for itself)."""
        caller = self.caller(ref)
        fingerprint: tuple[object, ...] = ("createWallet", client.value, currency)
        owner = None if client.value is None else self.clients.get(client.value)
        expected: dict[str, Any] | None
        missing = failure(
            "ClientNotFound",
            "CLIENT_NOT_FOUND",
            clientId=str(client.value),
            message=f"Client {client.value} does not exist.",
        )
        if client.value is None:
            expected = invalid("clientId")
        elif not CURRENCY_CODE.fullmatch(currency):
            expected = invalid("currency")
        elif not caller.may_see(client.value):  # another client, for a client token
            expected = missing
        elif not key.valid:
            expected = invalid("idempotencyKey")
        elif found := self.replay_or_reused(caller, key, fingerprint):
            expected = found
        elif owner is None:
            expected = missing
        elif currency not in CURRENCIES:
            expected = invalid("currency")  # well formed, but no such currency
        else:
            expected = None
        payload = {"clientId": client.wire, "currency": currency, "idempotencyKey": key.wire}
        result = self.mutate(caller, CREATE_WALLET, "createWallet", payload)
        self.sent.append(Sent("createWallet", self.stable(ref), (client, currency, key)))
        if expected is not None:
            self.check(expected, result)
            return
        assert owner is not None
        assert result.get("__typename") == "CreateWalletSuccess", result
        wallet_id = self.new_id(result["wallet"]["id"], self.highest_wallet)
        wallet = Wallet(wallet_id, owner.id, currency)
        self.check(
            {
                "__typename": "CreateWalletSuccess",
                "wallet": self.held_wallet(wallet),
                "replayed": False,
            },
            result,
        )
        self.wallets[wallet_id] = wallet
        owner.wallet_ids.append(wallet_id)
        self.highest_wallet = wallet_id
        self.remember(caller, key, fingerprint, result)

    def single(
        self,
        kind: str,
        ref: CallerRef,
        wallet: WalletId,
        amount: Amount,
        reference: Text,
        key: Text,
        metadata: Meta = Meta(None),
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A resupply (money enters) or a withdrawal (money leaves): operators only."""
        caller = self.caller(ref)
        sign = Decimal(1) if kind == "resupply" else Decimal(-1)
        expected: dict[str, Any] | None = None
        if caller.client_id is not None:
            expected = permission_denied(kind)
        elif wallet.value is None:
            expected = invalid("walletId")
        elif amount.value is None:
            expected = invalid("amount")
        else:
            expected = self.extras(reference, metadata, key)
        if expected is None:
            assert wallet.value is not None
            assert amount.value is not None
            fingerprint = (kind, wallet.value, amount.value, reference.stored, metadata.fingerprint)
            expected = self.replay_or_reused(caller, key, fingerprint, dry_run) or self.refusal(
                caller, [Leg(wallet.value, sign * amount.value)]
            )
        payload = {
            "walletId": wallet.wire,
            "amount": amount.wire,
            "reference": reference.wire,
            "metadata": metadata.wire,
            "idempotencyKey": key.wire,
            "dryRun": dry_run,
        }
        document = RESUPPLY if kind == "resupply" else WITHDRAW
        result = self.mutate(caller, document, kind, payload)
        self.sent.append(
            Sent(kind, self.stable(ref), (wallet, amount, reference, metadata, dry_run, key))
        )
        if expected is not None:
            self.check(expected, result)
            return result
        assert wallet.value is not None
        assert amount.value is not None
        target = self.wallets[wallet.value]
        number = self.new_transaction_number(result)
        balance = target.balance + sign * amount.value
        self.check(
            {
                "__typename": "ResupplySuccess" if kind == "resupply" else "WithdrawSuccess",
                "walletId": str(target.id),
                "amount": target.money(amount.value),
                "transactionNumber": number,
                "walletBalance": target.money(balance),
                "wallet": {"id": str(target.id), "balance": target.money(balance)},
                "reference": reference.stored,
                "metadata": metadata.stored,
                "dryRun": dry_run,
                "replayed": False,
            },
            result,
        )
        if dry_run:
            self.never_recorded(number)
            return result
        if kind == "resupply":
            self.resupplied[target.currency] += amount.value
        else:
            self.withdrawn[target.currency] += amount.value
        self.record(
            number,
            "RESUPPLY" if kind == "resupply" else "WITHDRAWAL",
            amount.value,
            reference.stored,
            metadata.stored,
            [
                (
                    target,
                    "RESUPPLY" if kind == "resupply" else "WITHDRAWAL",
                    sign * amount.value,
                    None,
                    reference.stored,
                )
            ],
        )
        fingerprint = (kind, target.id, amount.value, reference.stored, metadata.fingerprint)
        self.remember(caller, key, fingerprint, result)
        return result

    def resupply(
        self,
        ref: CallerRef,
        wallet: WalletId,
        amount: Amount,
        reference: Text,
        key: Text,
        metadata: Meta = Meta(None),
        dry_run: bool = False,
    ) -> dict[str, Any]:
        return self.single("resupply", ref, wallet, amount, reference, key, metadata, dry_run)

    def transfer(
        self,
        ref: CallerRef,
        source: WalletId,
        target: WalletId,
        amount: Amount,
        reference: Text,
        key: Text,
        metadata: Meta = Meta(None),
        dry_run: bool = False,
    ) -> dict[str, Any]:
        caller = self.caller(ref)
        expected: dict[str, Any] | None = None
        if source.value is None:
            expected = invalid("walletFromId")
        elif target.value is None or target.value == source.value:
            expected = invalid("walletToId")
        elif amount.value is None:
            expected = invalid("amount")
        else:
            expected = self.extras(reference, metadata, key)
        fingerprint = (
            "transfer",
            source.value,
            target.value,
            amount.value,
            reference.stored,
            metadata.fingerprint if metadata.refused is None else None,
        )
        if expected is None:
            assert source.value is not None
            assert target.value is not None
            assert amount.value is not None
            expected = self.replay_or_reused(caller, key, fingerprint, dry_run) or self.refusal(
                caller, [Leg(source.value, -amount.value), Leg(target.value, amount.value)]
            )
        payload = {
            "walletFromId": source.wire,
            "walletToId": target.wire,
            "amount": amount.wire,
            "reference": reference.wire,
            "metadata": metadata.wire,
            "idempotencyKey": key.wire,
            "dryRun": dry_run,
        }
        result = self.mutate(caller, TRANSFER, "transfer", payload)
        self.sent.append(
            Sent(
                "transfer",
                self.stable(ref),
                (source, target, amount, reference, metadata, dry_run, key),
            )
        )
        if expected is not None:
            self.check(expected, result)
            return result
        assert source.value is not None
        assert target.value is not None
        assert amount.value is not None
        sender, receiver = self.wallets[source.value], self.wallets[target.value]
        number = self.new_transaction_number(result)
        sent_after = sender.balance - amount.value
        received_after = receiver.balance + amount.value
        shown = caller.may_see(receiver.client_id)
        self.check(
            {
                "__typename": "TransferSuccess",
                "walletFromId": str(sender.id),
                "walletToId": str(receiver.id),
                "amount": sender.money(amount.value),
                "transactionNumber": number,
                "walletFromBalance": sender.money(sent_after),
                "walletToBalance": receiver.money(received_after) if shown else None,
                "walletFrom": {"id": str(sender.id), "balance": sender.money(sent_after)},
                "walletTo": {"id": str(receiver.id), "balance": receiver.money(received_after)}
                if shown
                else None,
                "reference": reference.stored,
                "metadata": metadata.stored,
                "dryRun": dry_run,
                "replayed": False,
            },
            result,
        )
        if dry_run:
            self.never_recorded(number)
            return result
        self.record(
            number,
            "TRANSFER",
            amount.value,
            reference.stored,
            metadata.stored,
            [
                (sender, "TRANSFER_OUT", -amount.value, receiver.id, reference.stored),
                (receiver, "TRANSFER_IN", amount.value, sender.id, reference.stored),
            ],
            payer=sender.id,
            received=[(receiver.id, amount.value)],
        )
        self.remember(caller, key, fingerprint, result)
        return result

    def split(
        self,
        ref: CallerRef,
        source: WalletId,
        legs: tuple[tuple[WalletId, Amount, Text], ...],
        reference: Text,
        key: Text,
        metadata: Meta = Meta(None),
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """One debit, a credit per leg, one transaction, all or nothing."""
        caller = self.caller(ref)
        expected: dict[str, Any] | None = None
        if source.value is None:
            expected = invalid("walletFromId")
        elif not 1 <= len(legs) <= MAX_SPLIT_LEGS:
            expected = invalid("legs")
        seen = {source.value}
        for i, (target, amount, leg_reference) in enumerate(legs):
            if expected is not None:
                break
            if target.value is None or target.value in seen:
                expected = invalid(f"legs[{i}].walletToId")
            elif amount.value is None:
                expected = invalid(f"legs[{i}].amount")
            elif not leg_reference.valid:
                expected = invalid(f"legs[{i}].reference")
            seen.add(target.value)
        if expected is None:
            expected = self.extras(reference, metadata, key)
        fingerprint: tuple[object, ...] = (
            "splitTransfer",
            source.value,
            tuple((t.value, a.value, r.stored) for t, a, r in legs),
            reference.stored,
            metadata.fingerprint if metadata.refused is None else None,
        )
        values = [a.value or Decimal(0) for _, a, _ in legs]
        total = sum(values, Decimal(0))
        if expected is None:
            assert source.value is not None
            plan = [Leg(source.value, -total, field="legs")]
            plan += [
                Leg(t.value or 0, v, field=f"legs[{i}].amount")
                for i, ((t, _, _), v) in enumerate(zip(legs, values, strict=True))
            ]
            expected = self.replay_or_reused(caller, key, fingerprint, dry_run) or self.refusal(
                caller, plan
            )
        payload = {
            "walletFromId": source.wire,
            "legs": [
                {"walletToId": t.wire, "amount": a.wire, "reference": r.wire} for t, a, r in legs
            ],
            "reference": reference.wire,
            "metadata": metadata.wire,
            "idempotencyKey": key.wire,
            "dryRun": dry_run,
        }
        result = self.mutate(caller, SPLIT, "splitTransfer", payload)
        self.sent.append(
            Sent(
                "splitTransfer",
                self.stable(ref),
                (source, legs, reference, metadata, dry_run, key),
            )
        )
        if expected is not None:
            self.check(expected, result)
            return result
        assert source.value is not None
        payer = self.wallets[source.value]
        payees = [self.wallets[t.value or 0] for t, _, _ in legs]
        number = self.new_transaction_number(result)
        paid_after = payer.balance - total
        self.check(
            {
                "__typename": "SplitTransferSuccess",
                "transactionNumber": number,
                "amount": payer.money(total),
                "walletFrom": {"id": str(payer.id), "balance": payer.money(paid_after)},
                "walletFromBalance": payer.money(paid_after),
                "legs": [
                    {
                        "walletToId": str(w.id),
                        "amount": w.money(v),
                        "reference": r.stored,
                        "walletTo": {"id": str(w.id), "balance": w.money(w.balance + v)}
                        if caller.may_see(w.client_id)
                        else None,
                    }
                    for w, v, (_, _, r) in zip(payees, values, legs, strict=True)
                ],
                "reference": reference.stored,
                "metadata": metadata.stored,
                "dryRun": dry_run,
                "replayed": False,
            },
            result,
        )
        if dry_run:
            self.never_recorded(number)
            return result
        self.record(
            number,
            "SPLIT",
            total,
            reference.stored,
            metadata.stored,
            [
                # (the one wallet on the other side, if there is only one)
                (
                    payer,
                    "TRANSFER_OUT",
                    -total,
                    payees[0].id if len(payees) == 1 else None,
                    reference.stored,
                ),
                *(
                    (w, "TRANSFER_IN", v, payer.id, r.stored or reference.stored)
                    for w, v, (_, _, r) in zip(payees, values, legs, strict=True)
                ),
            ],
            payer=payer.id,
            received=[(w.id, v) for w, v in zip(payees, values, strict=True)],
        )
        self.remember(caller, key, fingerprint, result)
        return result

    def hold(  # noqa: PLR0912 - one branch per outcome; the whole input
        self,
        ref: CallerRef,
        source: WalletId,
        target: WalletId,
        amount: Amount,
        expires: str | None,
        reference: Text,
        key: Text,
        metadata: Meta = Meta(None),
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Reserve money on one wallet for another (expires: None for the default week, or an
        explicit instant, possibly in the past: refused once the wallets are found)."""
        caller = self.caller(ref)
        past = expires is not None and datetime.fromisoformat(expires) <= datetime.now(UTC)
        expected: dict[str, Any] | None = None
        if source.value is None:
            expected = invalid("walletFromId")
        elif target.value is None or target.value == source.value:
            expected = invalid("walletToId")
        elif amount.value is None:
            expected = invalid("amount")
        else:
            expected = self.extras(reference, metadata, key)
        fingerprint = (
            "holdTransfer",
            source.value,
            target.value,
            amount.value,
            expires,
            reference.stored,
            metadata.fingerprint if metadata.refused is None else None,
        )
        if expected is None:
            assert source.value is not None
            assert target.value is not None
            assert amount.value is not None
            expected = self.replay_or_reused(caller, key, fingerprint, dry_run)
            refused = self.refusal(
                caller,
                [Leg(source.value, Decimal(0), amount.value), Leg(target.value, Decimal(0))],
            )
            if expected is None and past and refused is not None:
                expected = refused if refused["__typename"] == "WalletNotFound" else None
            if expected is None:
                expected = invalid("expiresAt") if past else refused
        payload = {
            "walletFromId": source.wire,
            "walletToId": target.wire,
            "amount": amount.wire,
            "expiresAt": expires,
            "reference": reference.wire,
            "metadata": metadata.wire,
            "idempotencyKey": key.wire,
            "dryRun": dry_run,
        }
        result = self.mutate(caller, HOLD, "holdTransfer", payload)
        self.sent.append(
            Sent(
                "holdTransfer",
                self.stable(ref),
                (source, target, amount, expires, reference, metadata, dry_run, key),
            )
        )
        if expected is not None:
            self.check(expected, result)
            return result
        assert source.value is not None
        assert target.value is not None
        assert amount.value is not None
        payer = self.wallets[source.value]
        number = self.new_transaction_number(result)
        # The expiry the hold has (or, on a dry run, would have)
        expires_at = result.get("expiresAt")
        assert isinstance(expires_at, str), result
        moment = datetime.fromisoformat(expires_at)
        if expires is None:  # the default: a week from now
            assert abs(moment - datetime.now(UTC) - timedelta(days=7)) < timedelta(minutes=5)
        else:
            assert moment == datetime.fromisoformat(expires)
        hold = None
        if not dry_run:
            shown = result.get("hold") or {}
            assert shown.get("expiresAt") == expires_at, result
            hold = Hold(
                self.new_id(shown.get("id"), self.highest_hold),
                payer.id,
                target.value,
                payer.currency,
                amount.value,
                reference.stored,
                metadata.stored,
                expires_at,
                transactions=[(number, "HOLD")],
            )
        self.check(
            {
                "__typename": "HoldTransferSuccess",
                "hold": None if hold is None else self.shown_hold(hold),
                "walletFrom": self.held_wallet(payer, hold_delta=amount.value),
                "amount": payer.money(amount.value),
                "expiresAt": expires_at,
                "transactionNumber": number,
                "dryRun": dry_run,
                "replayed": False,
            },
            result,
        )
        if hold is None:
            self.never_recorded(number)
        else:
            self.holds[hold.id] = hold
            self.highest_hold = hold.id
            self.remember(caller, key, fingerprint, result, hold=hold.id)
        return result

    def hold_refusal(self, hold: Hold | None, hold_id: int) -> dict[str, Any] | None:
        """Why a hold can be neither captured nor voided: unknown, resolved, or expired."""
        if hold is None:
            return failure("HoldNotFound", "HOLD_NOT_FOUND", holdId=str(hold_id))
        if hold.status != "PENDING":
            return failure(
                "HoldNotPending", "HOLD_NOT_PENDING", holdId=str(hold.id), holdStatus=hold.status
            )
        if hold.expired:
            return failure("HoldExpired", "HOLD_EXPIRED", holdId=str(hold.id))
        return None

    def resolve(  # noqa: PLR0912 - one branch per outcome; the whole input
        self,
        kind: str,
        ref: CallerRef,
        hold_id: WalletId,
        amount: Amount | None,
        key: Text,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Capture a hold (all of it, amount None, or a part; the rest is released) or void it
        (kind "voidHold", no amount): operators only."""
        caller = self.caller(ref)
        hold = None if hold_id.value is None else self.holds.get(hold_id.value)
        value = None if amount is None else amount.value
        fingerprint = (kind, hold_id.value, value)
        expected: dict[str, Any] | None = None
        if caller.client_id is not None:
            expected = permission_denied(kind)
        elif hold_id.value is None:
            expected = invalid("holdId")
        elif amount is not None and amount.value is None:
            expected = invalid("amount")
        elif not key.valid:
            expected = invalid("idempotencyKey")
        elif found := self.replay_or_reused(caller, key, fingerprint, dry_run):
            expected = found
        elif refused := self.hold_refusal(hold, hold_id.value):
            expected = refused
        else:
            assert hold is not None
            taken = hold.amount if value is None else value
            if taken > hold.amount:
                expected = invalid("amount")
            elif kind == "captureHold":
                expected = self.refusal(
                    caller,
                    [Leg(hold.payer, -taken, -hold.amount), Leg(hold.payee, taken)],
                )
        payload: dict[str, Any] = {"holdId": hold_id.wire, "idempotencyKey": key.wire}
        payload["dryRun"] = dry_run
        if amount is not None:
            payload["amount"] = amount.wire
        document = CAPTURE if kind == "captureHold" else VOID
        result = self.mutate(caller, document, kind, payload)
        self.sent.append(Sent(kind, self.stable(ref), (hold_id, amount, dry_run, key)))
        if expected is not None:
            self.check(expected, result)
            return result
        assert hold is not None
        payer, payee = self.wallets[hold.payer], self.wallets[hold.payee]
        taken = hold.amount if value is None else value
        number = self.new_transaction_number(result)
        if kind == "voidHold":
            dry = self.shown_hold(hold, status="VOIDED")
            if not dry_run:
                hold.status = "VOIDED"
                hold.transactions.append((number, "VOID"))
            self.check(
                {
                    "__typename": "VoidHoldSuccess",
                    "hold": dry if dry_run else self.shown_hold(hold),
                    "amount": payer.money(hold.amount),
                    "transactionNumber": number,
                    # (once voided, the model holds nothing for it any more)
                    "walletFrom": self.held_wallet(
                        payer, hold_delta=-hold.amount if dry_run else Decimal(0)
                    ),
                    "dryRun": dry_run,
                    "replayed": False,
                },
                result,
            )
            if dry_run:
                self.never_recorded(number)
            else:
                self.transactions_without_legs.add(number)
                self.remember(caller, key, fingerprint, result, hold=hold.id)
            return result
        dry = self.shown_hold(hold, status="CAPTURED", captured=taken)
        if not dry_run:
            hold.status, hold.captured = "CAPTURED", taken
            hold.transactions.append((number, "CAPTURE"))
        self.check(
            {
                "__typename": "CaptureHoldSuccess",
                "hold": dry if dry_run else self.shown_hold(hold),
                "transactionNumber": number,
                "amount": payer.money(taken),
                "walletFrom": {"id": str(payer.id), "balance": payer.money(payer.balance - taken)},
                "walletTo": {"id": str(payee.id), "balance": payee.money(payee.balance + taken)},
                "dryRun": dry_run,
                "replayed": False,
            },
            result,
        )
        if dry_run:
            self.never_recorded(number)
            return result
        self.record(
            number,
            "CAPTURE",
            taken,
            None,
            {},
            [
                (payer, "CAPTURE_OUT", -taken, payee.id, None),
                (payee, "CAPTURE_IN", taken, payer.id, None),
            ],
            payer=payer.id,
            received=[(payee.id, taken)],
            hold=hold.id,
        )
        self.remember(caller, key, fingerprint, result, hold=hold.id)
        return result

    def refund(
        self,
        ref: CallerRef,
        number: str,
        amount: Amount | None,
        reference: Text,
        key: Text,
        metadata: Meta = Meta(None),
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Money back from the wallet(s) that received a payment to the one that paid it;
        without an amount, all that remains refundable (a split: from its legs in order)."""
        caller = self.caller(ref)
        original = self.transactions.get(number)
        value = None if amount is None else amount.value
        fingerprint = (
            "refund",
            number,
            value,
            reference.stored,
            metadata.fingerprint if metadata.refused is None else None,
        )
        expected: dict[str, Any] | None = None
        if amount is not None and amount.value is None:
            expected = invalid("amount")
        else:
            expected = self.extras(reference, metadata, key)
        takes: list[tuple[int, Decimal]] = []
        requested = Decimal(0)
        if expected is None:
            expected = self.replay_or_reused(caller, key, fingerprint, dry_run)
        if expected is None:
            expected, takes, requested = self.refund_refusal(caller, original, number, value)
        payload: dict[str, Any] = {
            "transactionNumber": number,
            "reference": reference.wire,
            "metadata": metadata.wire,
            "idempotencyKey": key.wire,
            "dryRun": dry_run,
        }
        if amount is not None:
            payload["amount"] = amount.wire
        result = self.mutate(caller, REFUND, "refund", payload)
        self.sent.append(
            Sent("refund", self.stable(ref), (number, amount, reference, metadata, dry_run, key))
        )
        if expected is not None:
            self.check(expected, result)
            return result
        assert original is not None
        payer = self.wallets[original.payer or 0]
        refund_number = self.new_transaction_number(result)
        self.check(
            {
                "__typename": "RefundSuccess",
                "transactionNumber": refund_number,
                "refundOf": number,
                "amount": payer.money(requested),
                "remaining": payer.money(
                    sum((r - f for _, r, f in self.refund_sources(caller, original)), Decimal(0))
                    - requested
                ),
                "walletTo": {"id": str(payer.id), "balance": payer.money(payer.balance + requested)}
                if caller.may_see(payer.client_id)
                else None,
                "walletsFrom": [
                    {
                        "walletId": str(w),
                        "amount": payer.money(v),
                        "wallet": {
                            "id": str(w),
                            "balance": payer.money(self.wallets[w].balance - v),
                        }
                        if caller.may_see(self.wallets[w].client_id)
                        else None,
                    }
                    for w, v in takes
                ],
                "reference": reference.stored,
                "metadata": metadata.stored if metadata.refused is None else None,
                "dryRun": dry_run,
                "replayed": False,
            },
            result,
        )
        if dry_run:
            self.never_recorded(refund_number)
            return result
        for i, (wallet_id, _) in enumerate(original.received):
            original.refunded[i] += dict(takes).get(wallet_id, Decimal(0))
        assert original.refundable >= 0
        original.refunds.append(refund_number)
        single = takes[0][0] if len(takes) == 1 else None
        self.record(
            refund_number,
            "REFUND",
            requested,
            reference.stored,
            metadata.stored,
            [
                *(
                    (self.wallets[w], "REFUND_OUT", -v, payer.id, reference.stored)
                    for w, v in takes
                ),
                (payer, "REFUND_IN", requested, single, reference.stored),
            ],
            refund_of=number,
        )
        self.remember(caller, key, fingerprint, result)
        return result

    def refund_refusal(
        self, caller: Caller, original: Transaction | None, number: str, value: Decimal | None
    ) -> tuple[dict[str, Any] | None, list[tuple[int, Decimal]], Decimal]:
        """Why a refund is refused (after its input and key were checked), or what it takes
        from each wallet, and how much in all."""
        missing = failure(
            "TransactionNotFound",
            "TRANSACTION_NOT_FOUND",
            transactionNumber=number,
            message=f"Transaction {number} does not exist.",
        )
        if original is None or not self.touches(caller, original):
            return missing, [], Decimal(0)
        if original.kind not in REFUNDABLE:
            return invalid("transactionNumber"), [], Decimal(0)
        # A client refunds only from its own receiving wallets; none: the payment is missing.
        legs = self.refund_sources(caller, original)
        if not legs:
            return missing, [], Decimal(0)
        payer = self.wallets[original.payer or 0]
        remaining = sum((received - refunded for _, received, refunded in legs), Decimal(0))
        requested = remaining if value is None else value
        if requested <= 0 or requested > remaining:
            shown = payer.money(requested) if fits(requested, payer.exponent) else f"{requested:f}"
            return (
                failure(
                    "RefundExceedsRemaining",
                    "REFUND_EXCEEDS_REMAINING",
                    transactionNumber=number,
                    remaining=payer.money(remaining),
                    requested=shown,
                ),
                [],
                requested,
            )
        takes = self.refund_takes(legs, requested)
        plan = [Leg(payer.id, requested)] + [Leg(w, -v) for w, v in takes]
        return self.refusal(caller, plan), takes, requested

    def touches(self, caller: Caller, transaction: Transaction) -> bool:
        """Whether a caller may know of a transaction: an operator any, a client one that moved
        money of one of its wallets (any other looks missing, whatever its kind)."""
        return caller.client_id is None or any(
            self.wallets[wallet_id].client_id == caller.client_id
            for wallet_id, _ in transaction.legs
        )

    def refund_sources(
        self, caller: Caller, original: Transaction
    ) -> list[tuple[int, Decimal, Decimal]]:
        """The receiving legs a caller may refund from: (wallet, received, refunded)."""
        return [
            (wallet_id, received, refunded)
            for (wallet_id, received), refunded in zip(
                original.received, original.refunded, strict=True
            )
            if caller.may_see(self.wallets[wallet_id].client_id)
        ]

    @staticmethod
    def refund_takes(
        legs: list[tuple[int, Decimal, Decimal]], requested: Decimal
    ) -> list[tuple[int, Decimal]]:
        """What a refund takes back from each receiving wallet: the legs in order, each up to
        what remains of it."""
        takes = []
        left = requested
        for wallet_id, received, refunded in legs:
            take = min(left, received - refunded)
            if take > 0:
                takes.append((wallet_id, take))
                left -= take
        assert left == 0
        return takes

    # --- what the model says the reads must show

    def visible_wallet(self, caller: Caller, wallet_id: int | None) -> Wallet | None:
        wallet = None if wallet_id is None else self.wallets.get(wallet_id)
        return wallet if wallet is not None and caller.may_see(wallet.client_id) else None

    def shown_wallet(self, caller: Caller, wallet_id: int | None) -> dict[str, Any] | None:
        wallet = self.visible_wallet(caller, wallet_id)
        if wallet is None:
            return None
        owner = self.clients[wallet.client_id]
        return {
            **self.held_wallet(wallet),
            "client": {"id": str(owner.id), "login": owner.login, "name": owner.name},
        }

    def shown_operation(self, caller: Caller, op: Operation, exponent: int) -> dict[str, Any]:
        other = self.visible_wallet(caller, op.counterparty)
        return {
            "transactionNumber": op.transaction_number,
            "kind": op.kind,
            "amount": money(op.amount, exponent),
            "balanceAfter": money(op.balance_after, exponent),
            "reference": op.reference,
            "counterpartyWalletId": None if op.counterparty is None else str(op.counterparty),
            "counterpartyWallet": None if other is None else {"id": str(other.id)},
        }

    def history(self, caller: Caller, wallet: WalletId, page: int) -> list[dict[str, Any]] | None:
        """Walk a wallet's history page by page; None if the caller cannot see the wallet."""
        seen: list[dict[str, Any]] = []
        known = self.visible_wallet(caller, wallet.value)
        expected_total = 0 if known is None else len(known.history)
        after = None
        for _ in range(expected_total // page + 2):
            variables = {"id": wallet.wire, "first": page, "after": after}
            found = self.call(caller, HISTORY, variables)["wallet"]
            if found is None:
                return None
            edges = found["operations"]["edges"]
            info = found["operations"]["pageInfo"]
            remaining = expected_total - len(seen)
            assert len(edges) == min(page, remaining), found
            assert info["hasNextPage"] == (remaining > page), found
            seen.extend(edge["node"] for edge in edges)
            if not info["hasNextPage"]:
                return seen
            after = info["endCursor"]
        raise AssertionError(f"history of wallet {wallet.value} did not end")

    def pick_wallet(self, index: int) -> Wallet:
        ids = sorted(self.wallets)
        return self.wallets[ids[index % len(ids)]]

    def pick_other(self, wallet: Wallet, offset: int, same_currency: bool) -> Wallet:
        """Another wallet: of the same currency where there is one (when asked), or any."""
        others = [w for i, w in sorted(self.wallets.items()) if i != wallet.id]
        alike = [w for w in others if w.currency == wallet.currency]
        pool = alike if same_currency and alike else others
        return pool[offset % len(pool)]

    @staticmethod
    def share_of(wallet: Wallet, available: Decimal, share: int) -> Decimal:
        """``share`` % of what is available, in whole minor units, at least one."""
        unit = Decimal(1).scaleb(-wallet.exponent)
        return max(unit, (available * share / 100).quantize(unit, ROUND_DOWN))

    def amount_of(self, wallet: Wallet, value: Decimal, respelling: int = 0) -> Amount:
        """A value spelled for a wallet's currency; above the per-operation maximum (a share of
        a large balance can be) it is an amount the API must refuse."""
        texts = spellings(value, wallet.exponent)
        return Amount(texts[respelling % len(texts)], value if value <= MAX_AMOUNT else None)

    # --- rules

    @initialize(
        created=st.lists(
            st.tuples(
                fresh_logins,
                valid_names,
                st.integers(1, 50_000),
                weighted((3, st.just(DEFAULT_CURRENCY)), (2, st.sampled_from(sorted(CURRENCIES)))),
            ),
            min_size=2,
            max_size=4,
            unique_by=lambda t: t[0].lower(),
        )
    )
    def some_funded_clients(self, created: list[tuple[str, Name, int, str]]) -> None:
        for login, name, units, currency in created:
            self.create_client(OPERATOR, Login("given", login), name, Text(None), currency)
            wallet = self.wallets[self.highest_wallet]
            value = Decimal(units).scaleb(-wallet.exponent)
            self.resupply(OPERATOR, self.known(wallet.id), self.amount_of(wallet, value), *NONE)

    @precondition(lambda self: bool(self.wallets))
    @rule(
        index=st.integers(0, 1000),
        units=st.integers(1, 50_000),
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def fund_a_wallet(
        self, index: int, units: int, reference: Text, key: Text, metadata: Meta, dry_run: bool
    ) -> None:
        wallet = self.pick_wallet(index)
        amount = self.amount_of(wallet, Decimal(units).scaleb(-wallet.exponent))
        self.resupply(OPERATOR, self.known(wallet.id), amount, reference, key, metadata, dry_run)

    @precondition(lambda self: len(self.wallets) >= 2)
    @rule(
        index=st.integers(0, 1000),
        offset=st.integers(1, 1000),
        share=weighted((6, st.integers(1, 100)), (1, st.just(100)), (1, st.integers(101, 150))),
        same_currency=weighted((5, st.just(True)), (1, st.just(False))),
        by_owner=st.booleans(),
        token=st.integers(0, 1),
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def pay_from_a_wallet(
        self,
        index: int,
        offset: int,
        share: int,
        same_currency: bool,
        by_owner: bool,
        token: int,
        reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        """A transfer of a share (in %) of what the sender has available, all of it or more
        (an overdraft), by an operator or by its owner, mostly within one currency."""
        sender = self.pick_wallet(index)
        receiver = self.pick_other(sender, offset, same_currency)
        value = self.share_of(sender, sender.balance - self.held(sender), share)
        self.transfer(
            self.owner_ref(sender, token) if by_owner else OPERATOR,
            self.known(sender.id),
            self.known(receiver.id),
            self.amount_of(sender, value, share),
            reference,
            key,
            metadata,
            dry_run,
        )

    @precondition(lambda self: bool(self.wallets))
    @rule(
        index=st.integers(0, 1000),
        share=weighted((6, st.integers(1, 100)), (1, st.just(100)), (1, st.integers(101, 150))),
        as_client=weighted((6, st.just(False)), (1, st.just(True))),
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def pay_out_of_a_wallet(
        self,
        index: int,
        share: int,
        as_client: bool,
        reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        """A payout (withdraw) of a share of what is available, all of it or more; a client
        may not."""
        wallet = self.pick_wallet(index)
        value = self.share_of(wallet, wallet.balance - self.held(wallet), share)
        self.single(
            "withdraw",
            self.owner_ref(wallet) if as_client else OPERATOR,
            self.known(wallet.id),
            self.amount_of(wallet, value, share),
            reference,
            key,
            metadata,
            dry_run,
        )

    @rule(
        caller=callers,
        wallet=wallet_refs,
        amount=amounts,
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def withdraw_money(
        self,
        caller: CallerRef,
        wallet: WalletRef,
        amount: Amount,
        reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        self.single(
            "withdraw", caller, self.wallet_id(wallet), amount, reference, key, metadata, dry_run
        )

    @precondition(lambda self: bool(self.wallets))
    @rule(index=st.integers(0, 1000), amount=invalid_amounts, by_transfer=st.booleans())
    def send_a_bad_amount(self, index: int, amount: Amount, by_transfer: bool) -> None:
        """Zero, signs, exponents, above 10^15, not a number: InvalidInput."""
        wallet = self.pick_wallet(index)
        if by_transfer and len(self.wallets) > 1:
            other = self.pick_other(wallet, index, same_currency=True)
            self.transfer(OPERATOR, self.known(wallet.id), self.known(other.id), amount, *NONE)
        else:
            self.resupply(OPERATOR, self.known(wallet.id), amount, *NONE)

    @precondition(lambda self: bool(self.clients))
    @rule(
        index=st.integers(0, 1000),
        recase=st.sampled_from(["swapcase", "upper", "lower", "same"]),
        name=valid_names,
    )
    def claim_a_taken_login(self, index: int, recase: str, name: Name) -> None:
        """Logins are unique ignoring case."""
        self.create_client(OPERATOR, Login("taken", index=index, recase=recase), name, Text(None))

    @rule(
        caller=callers,
        login=logins,
        name=names,
        key=keys,
        currency=weighted((4, st.none()), (1, currencies)),
    )
    def create_a_client(
        self, caller: CallerRef, login: Login, name: Name, key: Text, currency: str | None
    ) -> None:
        self.create_client(caller, login, name, key, currency)

    @rule(
        caller=callers,
        whose=weighted(
            (6, st.integers(0, 1000).map(lambda i: WalletRef("known", i))),
            (1, st.builds(WalletRef, st.just("unknown"), st.integers(0, 2))),
            (1, st.builds(WalletRef, st.just("raw"), text=st.sampled_from(RAW_WALLET_IDS))),
        ),
        for_itself=st.booleans(),
        currency=currencies,
        key=keys,
    )
    def create_a_wallet(
        self, caller: CallerRef, whose: WalletRef, for_itself: bool, currency: str, key: Text
    ) -> None:
        """A further wallet, often in another currency; a client for itself (or, refused, for
        another client)."""
        who = self.caller(caller)
        if whose.kind == "raw":
            client = WalletId(whose.text, wallet_id_value(whose.text))
        elif who.client_id is not None and for_itself:
            client = self.known(who.client_id)
        elif whose.kind == "known" and self.clients:
            client = self.known(sorted(self.clients)[whose.index % len(self.clients)])
        else:
            client = self.known(self.highest_client + 1 + whose.index)
        self.create_wallet(caller, client, currency, key)

    @rule(
        caller=callers,
        wallet=wallet_refs,
        amount=amounts,
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def resupply_a_wallet(
        self,
        caller: CallerRef,
        wallet: WalletRef,
        amount: Amount,
        reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        self.resupply(caller, self.wallet_id(wallet), amount, reference, key, metadata, dry_run)

    @rule(
        caller=callers,
        sender=wallet_refs,
        receiver=wallet_refs,  # (not "target": that is a keyword of @rule)
        amount=amounts,
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def transfer_money(
        self,
        caller: CallerRef,
        sender: WalletRef,
        receiver: WalletRef,
        amount: Amount,
        reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        self.transfer(
            caller,
            self.wallet_id(sender),
            self.wallet_id(receiver),
            amount,
            reference,
            key,
            metadata,
            dry_run,
        )

    @precondition(lambda self: len(self.wallets) >= 2)
    @rule(
        index=st.integers(0, 1000),
        shares=st.lists(
            st.tuples(st.integers(1, 1000), st.integers(1, 60)), min_size=1, max_size=4
        ),
        flaw=weighted(
            (8, st.just("none")),
            *((1, st.just(f)) for f in SPLIT_FLAWS),
        ),
        by_owner=st.booleans(),
        reference=references,
        leg_reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def split_a_payment(
        self,
        index: int,
        shares: list[tuple[int, int]],
        flaw: str,
        by_owner: bool,
        reference: Text,
        leg_reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        """A marketplace payment: to each leg's wallet a share (in %) of what the payer has
        available, in its currency, all or nothing; or one flaw in it (a repeated or the
        paying wallet, a wallet of another currency or none, a bad or too fine amount, no legs,
        too many)."""
        payer = self.pick_wallet(index)
        available = payer.balance - self.held(payer)
        legs: list[tuple[WalletId, Amount, Text]] = []
        for i, (offset, share) in enumerate(shares):
            wallet = self.pick_other(payer, offset, same_currency=True)
            value = self.share_of(payer, available, share)
            legs.append((self.known(wallet.id), self.amount_of(payer, value), Text(None)))
            if i == 0:
                legs[0] = (legs[0][0], legs[0][1], leg_reference)
        last = len(legs) - 1
        if flaw == "repeated" and len(legs) > 1:
            legs[last] = (legs[0][0], *legs[last][1:])
        elif flaw == "payer":
            legs[last] = (self.known(payer.id), *legs[last][1:])
        elif flaw == "currency":
            other = self.pick_other(payer, index, same_currency=False)
            legs[last] = (self.known(other.id), *legs[last][1:])
        elif flaw == "missing":
            legs[last] = (self.known(self.highest_wallet + 1), *legs[last][1:])
        elif flaw == "amount":
            legs[last] = (legs[last][0], Amount("0", None), legs[last][2])
        elif flaw == "fine":  # one decimal more than the currency has
            fine = Decimal(1).scaleb(-payer.exponent - 1) * 5
            legs[last] = (legs[last][0], Amount(f"{fine:f}", fine), legs[last][2])
        elif flaw == "none":
            pass
        elif flaw == "no legs":
            legs = []
        elif flaw == "too many":
            legs = legs[:1] * (MAX_SPLIT_LEGS + 1)
        self.split(
            self.owner_ref(payer) if by_owner else OPERATOR,
            self.known(payer.id),
            tuple(legs),
            reference,
            key,
            metadata,
            dry_run,
        )

    @precondition(lambda self: len(self.wallets) >= 2)
    @rule(
        index=st.integers(0, 1000),
        offset=st.integers(1, 1000),
        share=weighted((6, st.integers(1, 100)), (1, st.just(100)), (1, st.integers(101, 150))),
        same_currency=weighted((5, st.just(True)), (1, st.just(False))),
        by_owner=st.booleans(),
        expires=weighted((4, st.just("default")), (1, st.just("month")), (1, st.just("past"))),
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def hold_money(
        self,
        index: int,
        offset: int,
        share: int,
        same_currency: bool,
        by_owner: bool,
        expires: str,
        reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        """A hold of a share of what is available (expiring after the default week, after a
        month, or, refused, in the past)."""
        payer = self.pick_wallet(index)
        payee = self.pick_other(payer, offset, same_currency)
        value = self.share_of(payer, payer.balance - self.held(payer), share)
        expiry = {"default": None, "month": timedelta(days=30), "past": timedelta(hours=-1)}[
            expires
        ]
        self.hold(
            self.owner_ref(payer) if by_owner else OPERATOR,
            self.known(payer.id),
            self.known(payee.id),
            self.amount_of(payer, value, share),
            None if expiry is None else (datetime.now(UTC) + expiry).isoformat(),
            reference,
            key,
            metadata,
            dry_run,
        )

    def pick_hold(self, index: int, which: str) -> WalletId:
        """A hold: a pending one, any one, one that does not exist or a malformed id."""
        pending = [h for _, h in sorted(self.holds.items()) if h.holding]
        every = [h for _, h in sorted(self.holds.items())]
        if which == "pending" and pending:
            return self.known(pending[index % len(pending)].id)
        if which in ("pending", "any") and every:
            return self.known(every[index % len(every)].id)
        if which == "malformed":
            return WalletId(RAW_WALLET_IDS[index % 6], None)  # "0", "-1", "01", "1.0", ...
        return self.known(self.highest_hold + 1 + index % 3)

    @rule(
        caller=weighted((6, st.just(OPERATOR)), (1, callers)),
        index=st.integers(0, 1000),
        which=weighted(
            (6, st.just("pending")),
            (2, st.just("any")),
            (1, st.just("unknown")),
            (1, st.just("malformed")),
        ),
        part=weighted(
            (3, st.none()),
            (3, st.integers(1, 100)),  # a share (in %) of the hold
            (1, st.just(101)),  # more than held
            (1, st.just(-1)),  # a bad amount
            (1, st.just(-2)),  # one decimal more than the currency has
        ),
        key=keys,
        dry_run=dry_runs,
    )
    def capture_a_hold(
        self,
        caller: CallerRef,
        index: int,
        which: str,
        part: int | None,
        key: Text,
        dry_run: bool,
    ) -> None:
        """Capture a hold, all of it or a part (the rest is released), or more than it holds;
        one already resolved or expired, one that does not exist."""
        hold_id = self.pick_hold(index, which)
        hold = None if hold_id.value is None else self.holds.get(hold_id.value)
        amount = None
        if part is not None and hold is not None:
            exponent = CURRENCIES[hold.currency]
            unit = Decimal(1).scaleb(-exponent)
            if part == -1:
                amount = Amount("-1", None)
            elif part == -2:
                amount = Amount(f"{unit / 2:f}", unit / 2)
            elif part == 101:
                value = hold.amount + unit
                amount = Amount(money(value, exponent), value)
            else:
                value = max(unit, (hold.amount * part / 100).quantize(unit, ROUND_DOWN))
                amount = Amount(money(value, exponent), value)
        self.resolve("captureHold", caller, hold_id, amount, key, dry_run)

    @rule(
        caller=weighted((6, st.just(OPERATOR)), (1, callers)),
        index=st.integers(0, 1000),
        which=weighted(
            (6, st.just("pending")),
            (2, st.just("any")),
            (1, st.just("unknown")),
            (1, st.just("malformed")),
        ),
        key=keys,
        dry_run=dry_runs,
    )
    def void_a_hold(
        self, caller: CallerRef, index: int, which: str, key: Text, dry_run: bool
    ) -> None:
        """Void a hold: its money is available again; one already resolved or expired, one
        that does not exist."""
        self.resolve("voidHold", caller, self.pick_hold(index, which), None, key, dry_run)

    @precondition(lambda self: any(h.holding for h in self.holds.values()))
    @rule(index=st.integers(0, 1000))
    def expire_a_hold(self, index: int) -> None:
        """Time passes for a hold: its expiry moves into the past (in the database). From then
        on it reads as EXPIRED, holds nothing, and can be neither captured nor voided."""
        pending = [h for _, h in sorted(self.holds.items()) if h.holding]
        hold = pending[index % len(pending)]
        self.server.run(self.move_expiry_into_the_past(hold.id))
        hold.expired = True
        shown = self.call(self.caller(OPERATOR), HOLD_READ, {"id": str(hold.id)})["hold"]
        assert datetime.fromisoformat(shown["expiresAt"]) <= datetime.now(UTC)
        hold.expires_at = shown["expiresAt"]
        assert shown == self.shown_hold(hold)

    @precondition(lambda self: bool(self.transactions))
    @rule(
        index=st.integers(0, 1000),
        which=weighted((6, st.just("refundable")), (1, st.just("any")), (1, st.just("unknown"))),
        part=weighted(
            (3, st.none()),
            (3, st.integers(1, 100)),  # a share (in %) of what remains
            (1, st.just(101)),  # more than remains
            (1, st.just(-1)),  # a bad amount
            (1, st.just(-2)),  # one decimal more than the currency has
        ),
        by_receiver=weighted((2, st.just(False)), (1, st.just(True))),
        caller=callers,
        reference=references,
        key=keys,
        metadata=metadatas,
        dry_run=dry_runs,
    )
    def refund_a_payment(
        self,
        index: int,
        which: str,
        part: int | None,
        by_receiver: bool,
        caller: CallerRef,
        reference: Text,
        key: Text,
        metadata: Meta,
        dry_run: bool,
    ) -> None:
        """Refund a transfer, a split or a capture: all that remains, a part of it, more; by an
        operator, by the client that received it, or by someone else; and transactions that
        cannot be refunded or do not exist."""
        refundable = [t for t in self.transactions.values() if t.kind in REFUNDABLE]
        every = list(self.transactions.values())
        pool = refundable if which == "refundable" and refundable else every
        original = pool[index % len(pool)]
        number = original.number if which != "unknown" else str(uuid.uuid4())
        if by_receiver and original.received:
            receiver = self.wallets[original.received[0][0]]
            caller = self.owner_ref(receiver, index % 2)
        amount = None
        if part is not None:
            exponent = CURRENCIES[original.currency]
            unit = Decimal(1).scaleb(-exponent)
            remaining = original.refundable
            if part == -1:
                amount = Amount("0", None)
            elif part == -2:
                amount = Amount(f"{unit / 2:f}", unit / 2)
            elif part == 101:
                amount = Amount(money(remaining + unit, exponent), remaining + unit)
            else:
                value = max(unit, (remaining * part / 100).quantize(unit, ROUND_DOWN))
                amount = Amount(money(value, exponent), value)
        self.refund(caller, number, amount, reference, key, metadata, dry_run)

    def send_again(  # noqa: PLR0912 - one branch per mutation
        self, sent: Sent, respelling: int, as_number: bool, other_token: bool, change: bool
    ) -> None:
        """Send a mutation again: the same request (amounts possibly spelled differently, from
        another token of the same client), or with one parameter changed."""
        caller = sent.caller
        if other_token:
            caller = CallerRef(caller.kind, caller.index, 1 - caller.token)
        args = sent.args
        if sent.kind == "createClient":
            login, name, key, currency = args
            if change:
                name = Name("Changed " + name.stored[:50], valid=True)
            self.create_client(caller, login, name, key, currency)
        elif sent.kind == "createWallet":
            client, currency, key = args
            if change:
                currency = "EUR" if currency != "EUR" else "JPY"
            self.create_wallet(caller, client, currency, key)
        elif sent.kind in ("resupply", "withdraw"):
            wallet, amount, reference, metadata, dry_run, key = args
            amount = self.again(amount, wallet.value, respelling, as_number, change)
            self.single(sent.kind, caller, wallet, amount, reference, key, metadata, dry_run)
        elif sent.kind == "transfer":
            source, target, amount, reference, metadata, dry_run, key = args
            amount = self.again(amount, source.value, respelling, as_number, change)
            self.transfer(caller, source, target, amount, reference, key, metadata, dry_run)
        elif sent.kind == "splitTransfer":
            source, legs, reference, metadata, dry_run, key = args
            if legs:
                first = self.again(legs[0][1], source.value, respelling, as_number, change)
                legs = ((legs[0][0], first, legs[0][2]), *legs[1:])
            self.split(caller, source, legs, reference, key, metadata, dry_run)
        elif sent.kind == "holdTransfer":
            source, target, amount, expires, reference, metadata, dry_run, key = args
            amount = self.again(amount, source.value, respelling, as_number, change)
            self.hold(caller, source, target, amount, expires, reference, key, metadata, dry_run)
        elif sent.kind in ("captureHold", "voidHold"):
            hold_id, amount, dry_run, key = args
            if change:  # another hold (or none)
                hold_id = self.known((hold_id.value or 0) + 1)
            hold = None if hold_id.value is None else self.holds.get(hold_id.value)
            if amount is not None and hold is not None:
                amount = self.again(amount, hold.payer, respelling, as_number, change=False)
            self.resolve(sent.kind, caller, hold_id, amount, key, dry_run)
        else:
            number, amount, reference, metadata, dry_run, key = args
            original = self.transactions.get(number)
            if amount is not None and original is not None:
                payer = original.payer
                amount = self.again(amount, payer, respelling, as_number, change)
            elif change:
                reference = Text("changed")
            self.refund(caller, number, amount, reference, key, metadata, dry_run)

    def again(
        self, amount: Amount, wallet_id: int | None, respelling: int, as_number: bool, change: bool
    ) -> Amount:
        """An amount sent again: the same value spelled another way, or one minor unit more
        (less, at the maximum)."""
        wallet = None if wallet_id is None else self.wallets.get(wallet_id)
        exponent = 2 if wallet is None else wallet.exponent
        if amount.value is None:
            return Amount("1", Decimal(1)) if change else amount
        value = amount.value
        if not fits(value, exponent):
            return amount  # (a value the currency cannot take has no other spelling here)
        if change:
            unit = Decimal(1).scaleb(-exponent)
            value += unit if value < MAX_AMOUNT else -unit
        texts = spellings(value, exponent)
        text = texts[respelling % len(texts)]
        return Amount(Raw(text) if as_number else text, value)

    @precondition(lambda self: bool(self.sent))
    @rule(
        index=st.integers(0, 1000),
        respelling=st.integers(0, 5),
        as_number=st.booleans(),
        other_token=st.booleans(),
    )
    def send_a_mutation_again(
        self, index: int, respelling: int, as_number: bool, other_token: bool
    ) -> None:
        """A retry, e.g. after a lost answer. Without a key it is a new request; a typed failure
        left no key behind, so it is evaluated afresh."""
        sent = self.sent[-1 - index % len(self.sent)]
        self.send_again(sent, respelling, as_number, other_token, change=False)

    @precondition(lambda self: bool(self.keys))
    @rule(
        index=st.integers(0, 1000),
        change=st.booleans(),
        respelling=st.integers(0, 5),
        as_number=st.booleans(),
        other_token=st.booleans(),
        a_clients_key=st.booleans(),
    )
    def use_a_key_again(
        self,
        index: int,
        change: bool,
        respelling: int,
        as_number: bool,
        other_token: bool,
        a_clients_key: bool,
    ) -> None:
        """The same key again: the same request gets the first answer (replayed: true), a
        different one IdempotencyKeyReused; a client's tokens share its keys."""
        candidates = list(self.keys.items())
        if a_clients_key:
            candidates = [c for c in candidates if c[0][0].startswith("client:")] or candidates
        _, remembered = candidates[index % len(candidates)]
        self.send_again(remembered.sent, respelling, as_number, other_token, change)

    @precondition(lambda self: len(self.clients) >= 2)
    @rule(
        who=st.integers(0, 1000),
        whose=st.integers(1, 1000),
        token=st.integers(0, 1),
        amount=valid_amounts,
    )
    def client_reaches_for_another_clients_wallet(
        self, who: int, whose: int, token: int, amount: Amount
    ) -> None:
        """Another client's wallet, hold or payment must look exactly like one that does not
        exist."""
        ids = sorted(self.clients)
        ref = CallerRef("client", who, token)
        me = self.clients[ids[who % len(ids)]]
        other = self.clients[ids[(who + whose) % len(ids)]]
        if other.id == me.id:
            other = self.clients[ids[(who + 1) % len(ids)]]
        caller = self.caller(ref)
        mine = self.known(me.wallet_ids[0])
        answers = []
        for wallet_id in (other.wallet_ids[0], self.highest_wallet + 1):  # theirs, a missing one
            wallet = self.known(wallet_id)
            sent = self.transfer(ref, wallet, mine, amount, *NONE)
            read = self.call(caller, WALLET, {"id": str(wallet_id)})
            history = self.history(caller, wallet, 100)
            message = str(sent.get("message")).replace(f"Wallet {wallet_id} ", "Wallet <id> ")
            answers.append([{**sent, "walletId": "<id>", "message": message}, read, history])
        assert answers[0] == answers[1]
        # The other client itself, its holds, and (for a client) the operator-only mutations.
        assert self.call(caller, CLIENT, {"id": str(other.id)}) == {"client": None}
        for hold in self.holds.values():
            mine_too = {self.wallets[hold.payer].client_id, self.wallets[hold.payee].client_id}
            if me.id not in mine_too:
                assert self.call(caller, HOLD_READ, {"id": str(hold.id)}) == {"hold": None}
        self.resupply(ref, mine, amount, *NONE)
        self.single("withdraw", ref, mine, amount, *NONE)

    @rule(caller=callers, wallet=wallet_refs)
    def read_a_wallet(self, caller: CallerRef, wallet: WalletRef) -> None:
        who, target = self.caller(caller), self.wallet_id(wallet)
        data = self.call(who, WALLET, {"id": target.wire})
        self.check({"wallet": self.shown_wallet(who, target.value)}, data)

    @rule(caller=callers, index=st.integers(0, 1000), known=st.booleans())
    def read_a_client(self, caller: CallerRef, index: int, known: bool) -> None:
        who = self.caller(caller)
        ids = sorted(self.clients)
        client_id = ids[index % len(ids)] if known and ids else self.highest_client + 1 + index
        data = self.call(who, CLIENT, {"id": str(client_id)})
        client = self.clients.get(client_id)
        expected = None
        if client is not None and who.may_see(client.id):
            expected = {
                "id": str(client.id),
                "login": client.login,
                "name": client.name,
                "wallets": [
                    {
                        "id": str(w.id),
                        "currency": w.currency,
                        "balance": w.money(w.balance),
                    }
                    for w in (self.wallets[i] for i in sorted(client.wallet_ids))
                ],
            }
        self.check({"client": expected}, data)

    @rule(
        caller=callers,
        index=st.integers(0, 1000),
        which=weighted((4, st.just("any")), (1, st.just("unknown"))),
        status=st.sampled_from([None, "PENDING", "CAPTURED", "VOIDED", "EXPIRED"]),
    )
    def read_a_hold(self, caller: CallerRef, index: int, which: str, status: str | None) -> None:
        """A hold, and the holds of its paying wallet (by status): as the model has them,
        EXPIRED once expired whether or not anything swept it."""
        who = self.caller(caller)
        hold_id = self.pick_hold(index, which)
        hold = None if hold_id.value is None else self.holds.get(hold_id.value)
        visible = hold is not None and (
            self.visible_wallet(who, hold.payer) is not None
            or self.visible_wallet(who, hold.payee) is not None
        )
        data = self.call(who, HOLD_READ, {"id": hold_id.wire})
        assert data == {"hold": self.shown_hold(hold) if hold is not None and visible else None}
        if hold is None:
            return
        found = self.call(who, WALLET_HOLDS, {"id": str(hold.payer), "status": status})
        payer = self.visible_wallet(who, hold.payer)
        expected = None
        if payer is not None:
            listed = [
                h
                for _, h in sorted(self.holds.items(), reverse=True)  # newest first
                if payer.id in (h.payer, h.payee) and status in (None, h.shown_status)
            ]
            expected = {"holds": [{"id": str(h.id), "status": h.shown_status} for h in listed]}
        assert found == {"wallet": expected}

    @rule(caller=callers, index=st.integers(0, 1000), known=st.booleans())
    def read_a_transaction(self, caller: CallerRef, index: int, known: bool) -> None:
        who = self.caller(caller)
        numbers = list(self.transactions)
        number = numbers[index % len(numbers)] if known and numbers else str(uuid.uuid4())
        data = self.call(who, TRANSACTION, {"number": number})
        expected = None
        if (transaction := self.transactions.get(number)) is not None:
            exponent = CURRENCIES[transaction.currency]
            legs = [
                {
                    "transactionNumber": number,
                    "kind": op.kind,
                    "amount": money(op.amount, exponent),
                    "balanceAfter": money(op.balance_after, exponent),
                    "counterpartyWalletId": None
                    if op.counterparty is None
                    else str(op.counterparty),
                    "wallet": {"id": str(wallet_id)},
                }
                for wallet_id, op in transaction.legs
                if self.visible_wallet(who, wallet_id) is not None
            ]
            if legs:
                expected = {
                    "number": number,
                    "kind": transaction.kind,
                    "amount": money(transaction.amount, exponent),
                    "currency": transaction.currency,
                    "reference": transaction.reference,
                    "metadata": transaction.metadata,
                    "refundable": money(transaction.refundable, exponent),
                    "refundOf": None
                    if transaction.refund_of is None
                    else {"number": transaction.refund_of},
                    "refunds": [{"number": n} for n in transaction.refunds],
                    "hold": None if transaction.hold is None else {"id": str(transaction.hold)},
                    "legs": legs,
                }
        self.check({"transaction": expected}, data)

    @rule(caller=callers, wallet=wallet_refs, page=st.sampled_from([1, 2, 3, 100]))
    def read_a_history(self, caller: CallerRef, wallet: WalletRef, page: int) -> None:
        who, target = self.caller(caller), self.wallet_id(wallet)
        visible = self.visible_wallet(who, target.value)
        expected = None
        if visible is not None:
            expected = [
                self.shown_operation(who, op, visible.exponent) for op in reversed(visible.history)
            ]
        assert self.history(who, target, page) == expected

    # --- invariants

    @invariant()
    def wallets_agree_and_add_up(self) -> None:
        """Every wallet as the model has it, and per currency: the balances add up to what was
        resupplied less what was withdrawn, no wallet holds more than its balance, no payment
        is refunded above its amount."""
        operator = self.caller(OPERATOR)
        ids = [*sorted(self.wallets), self.highest_wallet + 1]  # and one that does not exist
        reported: dict[int, dict[str, Any] | None] = {}
        summary: list[dict[str, Any]] = []
        for start in range(0, len(ids), BALANCES_PER_REQUEST):
            chunk = ids[start : start + BALANCES_PER_REQUEST]
            fields = " ".join(
                f'w{i}: wallet(id: "{i}") {{ id currency balance held available }}' for i in chunk
            )
            data = self.call(operator, f"{{ {fields} {SUMMARY if start == 0 else ''} }}", {})
            reported.update({i: data[f"w{i}"] for i in chunk})
            summary = data.get("ledgerSummary", {}).get("currencies", summary)
        expected: dict[int, dict[str, Any] | None] = {
            i: self.held_wallet(w) for i, w in self.wallets.items()
        }
        expected[self.highest_wallet + 1] = None
        assert reported == expected
        totals: dict[str, dict[str, Any]] = {}
        for currency, exponent in CURRENCIES.items():
            wallets = [w for w in self.wallets.values() if w.currency == currency]
            if not wallets:
                continue
            balances = [Decimal(str(reported[w.id]["balance"])) for w in wallets]  # type: ignore[index]
            held = [Decimal(str(reported[w.id]["held"])) for w in wallets]  # type: ignore[index]
            assert sum(balances, Decimal(0)) == self.resupplied[currency] - self.withdrawn[currency]
            assert all(0 <= h <= b for h, b in zip(held, balances, strict=True))
            totals[currency] = {
                "currency": currency,
                "wallets": len(wallets),
                "totalBalance": money(sum(balances, Decimal(0)), exponent),
                "totalHeld": money(sum(held, Decimal(0)), exponent),
                "totalResupplied": money(self.resupplied[currency], exponent),
                "totalWithdrawn": money(self.withdrawn[currency], exponent),
            }
        assert {t["currency"]: t for t in summary} == totals
        for transaction in self.transactions.values():
            assert 0 <= transaction.refundable <= transaction.amount

    def teardown(self) -> None:
        report = self.server.run(audit(self.server.app.state.db.engine))
        assert report.ok, report.render()
        assert report.total_balance == sum(self.resupplied.values()) - sum(self.withdrawn.values())


def test_the_ledger_agrees_with_its_model(settings: Settings) -> None:
    # given: the service on a real socket, over the test's fresh database
    with live_server(settings) as server, httpx.Client(timeout=30) as http:

        class Ledger(LedgerMachine):
            pass

        Ledger.server = server
        Ledger.http = http
        # when / then: random sequences of calls, each checked against the model
        run_state_machine_as_test(Ledger, settings=MODEL_SETTINGS)  # type: ignore[no-untyped-call, unused-ignore]  # typed from hypothesis 6.16x
