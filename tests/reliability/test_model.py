"""Model-based test: the ledger, driven over real HTTP, agrees with a pure-Python model.

A Hypothesis state machine creates clients, credits and moves money, repeats requests and reads
everything back through the real HTTP stack (uvicorn on 127.0.0.1, see support/live_server.py),
mixing valid requests with invalid ones: unknown and malformed wallet ids, bad amounts,
overdrafts, self-transfers, logins taken in another case, reused idempotency keys, client tokens
reaching for other clients' wallets or for operator-only mutations. Each call's typed result must
be exactly what the model predicts, and after every step every balance the API reports equals the
model's, the balances add up to everything ever resupplied and none is negative.

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
MAX_BALANCE = Decimal("999999999999999999.99")
MAX_ID = 2**63 - 1
LOGIN_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._-")
OPERATORS = ("operator", "operator2")


def money(value: Decimal) -> str:
    """Money as the API writes it: exactly two decimals."""
    return f"{value:.2f}"


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


def spellings(value: Decimal) -> list[str]:
    """The plain ways to write an amount: "5.50" and "5.5", "5.00", "5.0" and "5"."""
    exact = money(value)
    found = [exact]
    if exact.endswith("0"):
        found.append(exact[:-1])
    if exact.endswith(".00"):
        found.append(exact[:-3])
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
    refused(  # three decimals (even a trailing zero: "5.000")
        st.tuples(small_values, st.integers(0, 9)).map(lambda t: f"{money(t[0])}{t[1]}")
    ),
    refused(  # exponents
        st.tuples(st.integers(1, 999), st.sampled_from("eE"), st.integers(-2, 12)).map(
            lambda t: f"{t[0]}{t[1]}{t[2]}"
        )
    ),
    refused(st.integers(10**17 + 1, 10**21).map(lambda n: money(cents(n)))),  # above 10^15
    st.sampled_from(NOT_NUMBERS).map(lambda t: Amount(t, None)),
    st.sampled_from(["true", "false"]).map(lambda t: Amount(Raw(t), None)),  # JSON booleans
)
amounts = weighted((6, valid_amounts), (1, invalid_amounts))

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


# --- GraphQL documents ----------------------------------------------------------------------

# Fuller than support.documents: whole results are checked, replays and permissions included.
CREATE_CLIENT = """
mutation CreateClient($input: CreateClientInput!) {
  createClient(input: $input) {
    __typename
    ... on CreateClientSuccess { client { id login name } wallet { id balance } replayed }
    ... on Error { code message }
    ... on InvalidInput { field }
    ... on LoginTaken { login }
    ... on IdempotencyKeyReused { idempotencyKey }
    ... on PermissionDenied { operation }
  }
}
"""

RESUPPLY = """
mutation Resupply($input: ResupplyInput!) {
  resupply(input: $input) {
    __typename
    ... on ResupplySuccess {
      walletId amount transactionNumber walletBalance wallet { id balance } reference replayed
    }
    ... on Error { code message }
    ... on InvalidInput { field }
    ... on WalletNotFound { walletId }
    ... on BalanceLimitExceeded { walletId limit }
    ... on IdempotencyKeyReused { idempotencyKey }
    ... on PermissionDenied { operation }
  }
}
"""

TRANSFER = """
mutation Transfer($input: TransferInput!) {
  transfer(input: $input) {
    __typename
    ... on TransferSuccess {
      walletFromId walletToId amount transactionNumber walletFromBalance walletToBalance
      walletFrom { id balance } walletTo { id balance } reference replayed
    }
    ... on Error { code message }
    ... on InvalidInput { field }
    ... on WalletNotFound { walletId }
    ... on InsufficientFunds { walletId balance requested }
    ... on BalanceLimitExceeded { walletId limit }
    ... on IdempotencyKeyReused { idempotencyKey }
    ... on PermissionDenied { operation }
  }
}
"""

WALLET = "query Wallet($id: ID!) { wallet(id: $id) { id balance client { id login name } } }"
CLIENT = "query Client($id: ID!) { client(id: $id) { id login name wallets { id balance } } }"
TRANSACTION = """
query Transaction($number: UUID!) {
  transaction(number: $number) {
    number kind amount reference
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


# --- The model ------------------------------------------------------------------------------


@dataclass
class Operation:
    transaction_number: str
    kind: str  # RESUPPLY, TRANSFER_IN, TRANSFER_OUT
    amount: Decimal  # signed
    balance_after: Decimal
    counterparty: int | None
    reference: str | None


@dataclass
class Wallet:
    id: int
    client_id: int
    balance: Decimal = Decimal("0.00")
    history: list[Operation] = field(default_factory=list)  # oldest first


@dataclass
class Client:
    id: int
    login: str
    name: str
    wallet_id: int


@dataclass
class Transaction:
    number: str
    kind: str  # RESUPPLY, TRANSFER
    amount: Decimal
    reference: str | None
    legs: list[tuple[int, Operation]]  # (wallet, operation), by signed amount


@dataclass(frozen=True)
class Sent:
    """A mutation as it was sent, to send again."""

    kind: str  # "createClient", "resupply", "transfer"
    caller: CallerRef
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Remembered:
    fingerprint: tuple[object, ...]
    result: dict[str, Any]  # the answer to the request that stored the key
    sent: Sent  # that request


class LedgerMachine(RuleBasedStateMachine):
    server: ClassVar[LiveServer]
    http: ClassVar[httpx.Client]

    def __init__(self) -> None:
        super().__init__()
        self.server.reset()  # every example starts from an empty ledger, ids from 1
        self.operator_tokens = {name: self.server.token() for name in OPERATORS}
        self.client_tokens: dict[tuple[int, int], str] = {}
        self.clients: dict[int, Client] = {}
        self.wallets: dict[int, Wallet] = {}
        self.transactions: dict[str, Transaction] = {}
        self.keys: dict[tuple[str, str], Remembered] = {}
        self.resupplied = Decimal("0.00")
        self.highest_wallet = 0
        self.highest_client = 0
        self.sent: list[Sent] = []

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

    def wallet_id(self, ref: WalletRef) -> WalletId:
        if ref.kind == "raw":
            return WalletId(ref.text, wallet_id_value(ref.text))
        if ref.kind == "known" and self.wallets:
            value = sorted(self.wallets)[ref.index % len(self.wallets)]
        else:  # an id no wallet has ever had
            value = self.highest_wallet + 1 + ref.index
        return WalletId(Raw(str(value)) if ref.as_number else str(value), value)

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
        self, caller: Caller, key: Text, fingerprint: tuple[object, ...]
    ) -> dict[str, Any] | None:
        """What a key already used by this caller answers: the first result, or a refusal."""
        if key.wire is None:
            return None
        remembered = self.keys.get((caller.scope, key.wire))
        if remembered is None:
            return None
        if remembered.fingerprint == fingerprint:
            return {**remembered.result, "replayed": True}
        return failure("IdempotencyKeyReused", "IDEMPOTENCY_KEY_REUSED", idempotencyKey=key.wire)

    def remember(
        self, caller: Caller, key: Text, fingerprint: tuple[object, ...], result: dict[str, Any]
    ) -> None:
        if key.wire is not None:
            self.keys[caller.scope, key.wire] = Remembered(fingerprint, result, self.sent[-1])

    def new_transaction_number(self, result: dict[str, Any]) -> str:
        number = result.get("transactionNumber")
        assert isinstance(number, str)
        assert str(uuid.UUID(number)) == number
        assert number not in self.transactions
        return number

    def new_id(self, value: object, highest: int) -> int:
        """An id the API has just issued: canonical, and above every id it issued before."""
        assert isinstance(value, str)
        parsed = wallet_id_value(value)
        assert parsed is not None
        assert parsed > highest
        return parsed

    # --- the operations

    def create_client(self, ref: CallerRef, login_ref: Login, name: Name, key: Text) -> None:
        caller = self.caller(ref)
        login, login_valid = self.login(login_ref)
        fingerprint: tuple[object, ...] = ("createClient", login, name.stored)
        expected: dict[str, Any] | None
        if caller.client_id is not None:
            expected = failure("PermissionDenied", "PERMISSION_DENIED", operation="createClient")
        elif not login_valid:
            expected = invalid("login")
        elif not name.valid:
            expected = invalid("name")
        elif not key.valid:
            expected = invalid("idempotencyKey")
        elif found := self.replay_or_reused(caller, key, fingerprint):
            expected = found
        elif login.lower() in {c.login.lower() for c in self.clients.values()}:
            expected = failure("LoginTaken", "LOGIN_TAKEN", login=login)
        else:
            expected = None
        payload = {"login": login, "name": name.text, "idempotencyKey": key.wire}
        result = self.call(caller, CREATE_CLIENT, {"input": payload})["createClient"]
        self.sent.append(Sent("createClient", self.stable(ref), (Login("given", login), name, key)))
        if expected is not None:
            self.check(expected, result)
            return
        assert result.get("__typename") == "CreateClientSuccess", result
        client_id = self.new_id(result["client"]["id"], self.highest_client)
        wallet_id = self.new_id(result["wallet"]["id"], self.highest_wallet)
        self.check(
            {
                "__typename": "CreateClientSuccess",
                "client": {"id": str(client_id), "login": login, "name": name.stored},
                "wallet": {"id": str(wallet_id), "balance": "0.00"},
                "replayed": False,
            },
            result,
        )
        self.clients[client_id] = Client(client_id, login, name.stored, wallet_id)
        self.wallets[wallet_id] = Wallet(wallet_id, client_id)
        self.highest_client, self.highest_wallet = client_id, wallet_id
        self.remember(caller, key, fingerprint, result)

    def resupply(
        self, ref: CallerRef, wallet: WalletId, amount: Amount, reference: Text, key: Text
    ) -> dict[str, Any]:
        caller = self.caller(ref)
        fingerprint: tuple[object, ...] = ("resupply", wallet.value, amount.value, reference.stored)
        target = None if wallet.value is None else self.wallets.get(wallet.value)
        expected: dict[str, Any] | None
        if caller.client_id is not None:
            expected = failure("PermissionDenied", "PERMISSION_DENIED", operation="resupply")
        elif wallet.value is None:
            expected = invalid("walletId")
        elif amount.value is None:
            expected = invalid("amount")
        elif not reference.valid:
            expected = invalid("reference")
        elif not key.valid:
            expected = invalid("idempotencyKey")
        elif found := self.replay_or_reused(caller, key, fingerprint):
            expected = found
        elif target is None:
            expected = wallet_not_found(wallet.value)
        elif target.balance + amount.value > MAX_BALANCE:
            expected = failure(
                "BalanceLimitExceeded",
                "BALANCE_LIMIT_EXCEEDED",
                walletId=str(target.id),
                limit=money(MAX_BALANCE),
            )
        else:
            expected = None
        payload = {
            "walletId": wallet.wire,
            "amount": amount.wire,
            "reference": reference.wire,
            "idempotencyKey": key.wire,
        }
        result: dict[str, Any] = self.call(caller, RESUPPLY, {"input": payload})["resupply"]
        self.sent.append(Sent("resupply", self.stable(ref), (wallet, amount, reference, key)))
        if expected is not None:
            self.check(expected, result)
            return result
        assert target is not None
        assert amount.value is not None
        number = self.new_transaction_number(result)
        balance = target.balance + amount.value
        self.check(
            {
                "__typename": "ResupplySuccess",
                "walletId": str(target.id),
                "amount": money(amount.value),
                "transactionNumber": number,
                "walletBalance": money(balance),
                "wallet": {"id": str(target.id), "balance": money(balance)},
                "reference": reference.stored,
                "replayed": False,
            },
            result,
        )
        target.balance = balance
        self.resupplied += amount.value
        leg = Operation(number, "RESUPPLY", amount.value, balance, None, reference.stored)
        target.history.append(leg)
        self.transactions[number] = Transaction(
            number, "RESUPPLY", amount.value, reference.stored, [(target.id, leg)]
        )
        self.remember(caller, key, fingerprint, result)
        return result

    def predict_transfer(  # noqa: PLR0911 - one return per outcome, in the service's order
        self,
        caller: Caller,
        source: WalletId,
        target: WalletId,
        amount: Amount,
        reference: Text,
        key: Text,
    ) -> dict[str, Any] | None:
        """The typed failure (or replay) a transfer must answer; None when it must succeed."""
        if source.value is None:
            return invalid("walletFromId")
        if target.value is None or target.value == source.value:
            return invalid("walletToId")
        if amount.value is None:
            return invalid("amount")
        if not reference.valid:
            return invalid("reference")
        if not key.valid:
            return invalid("idempotencyKey")
        fingerprint = ("transfer", source.value, target.value, amount.value, reference.stored)
        if found := self.replay_or_reused(caller, key, fingerprint):
            return found
        for wallet_id in sorted((source.value, target.value)):  # the service's locking order
            wallet = self.wallets.get(wallet_id)
            if wallet_id == source.value:
                # A client may only send from its own wallets; any other is "not found".
                if wallet is None or not caller.may_see(wallet.client_id):
                    return wallet_not_found(wallet_id)
                if wallet.balance < amount.value:
                    return failure(
                        "InsufficientFunds",
                        "INSUFFICIENT_FUNDS",
                        walletId=str(wallet_id),
                        balance=money(wallet.balance),
                        requested=money(amount.value),
                        message=f"Wallet {wallet_id} holds {money(wallet.balance)}, less than"
                        f" the {money(amount.value)} requested.",
                    )
            elif wallet is None:
                return wallet_not_found(wallet_id)
            elif wallet.balance + amount.value > MAX_BALANCE:
                return failure(
                    "BalanceLimitExceeded",
                    "BALANCE_LIMIT_EXCEEDED",
                    walletId=str(wallet_id),
                    limit=money(MAX_BALANCE),
                )
        return None

    def transfer(
        self,
        ref: CallerRef,
        source: WalletId,
        target: WalletId,
        amount: Amount,
        reference: Text,
        key: Text,
    ) -> dict[str, Any]:
        caller = self.caller(ref)
        expected = self.predict_transfer(caller, source, target, amount, reference, key)
        payload = {
            "walletFromId": source.wire,
            "walletToId": target.wire,
            "amount": amount.wire,
            "reference": reference.wire,
            "idempotencyKey": key.wire,
        }
        result: dict[str, Any] = self.call(caller, TRANSFER, {"input": payload})["transfer"]
        self.sent.append(
            Sent("transfer", self.stable(ref), (source, target, amount, reference, key))
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
                "amount": money(amount.value),
                "transactionNumber": number,
                "walletFromBalance": money(sent_after),
                "walletToBalance": money(received_after) if shown else None,
                "walletFrom": {"id": str(sender.id), "balance": money(sent_after)},
                "walletTo": {"id": str(receiver.id), "balance": money(received_after)}
                if shown
                else None,
                "reference": reference.stored,
                "replayed": False,
            },
            result,
        )
        sender.balance, receiver.balance = sent_after, received_after
        out = Operation(
            number, "TRANSFER_OUT", -amount.value, sent_after, receiver.id, reference.stored
        )
        into = Operation(
            number, "TRANSFER_IN", amount.value, received_after, sender.id, reference.stored
        )
        sender.history.append(out)
        receiver.history.append(into)
        self.transactions[number] = Transaction(
            number,
            "TRANSFER",
            amount.value,
            reference.stored,
            [(sender.id, out), (receiver.id, into)],
        )
        fingerprint = ("transfer", sender.id, receiver.id, amount.value, reference.stored)
        self.remember(caller, key, fingerprint, result)
        return result

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
            "id": str(wallet.id),
            "balance": money(wallet.balance),
            "client": {"id": str(owner.id), "login": owner.login, "name": owner.name},
        }

    def shown_operation(self, caller: Caller, op: Operation) -> dict[str, Any]:
        other = self.visible_wallet(caller, op.counterparty)
        return {
            "transactionNumber": op.transaction_number,
            "kind": op.kind,
            "amount": money(op.amount),
            "balanceAfter": money(op.balance_after),
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

    # --- rules

    @initialize(
        created=st.lists(
            st.tuples(fresh_logins, valid_names, small_values),
            min_size=2,
            max_size=4,
            unique_by=lambda t: t[0].lower(),
        )
    )
    def some_funded_clients(self, created: list[tuple[str, Name, Decimal]]) -> None:
        for login, name, value in created:
            self.create_client(OPERATOR, Login("given", login), name, Text(None))
            wallet = WalletId(str(self.highest_wallet), self.highest_wallet)
            self.resupply(OPERATOR, wallet, Amount(money(value), value), Text(None), Text(None))

    @precondition(lambda self: bool(self.wallets))
    @rule(index=st.integers(0, 1000), value=small_values, reference=references, key=keys)
    def fund_a_wallet(self, index: int, value: Decimal, reference: Text, key: Text) -> None:
        ids = sorted(self.wallets)
        wallet = WalletId(str(ids[index % len(ids)]), ids[index % len(ids)])
        self.resupply(OPERATOR, wallet, Amount(money(value), value), reference, key)

    @precondition(lambda self: len(self.wallets) >= 2)
    @rule(
        index=st.integers(0, 1000),
        offset=st.integers(1, 1000),
        share=weighted((6, st.integers(1, 100)), (1, st.just(100)), (1, st.integers(101, 150))),
        by_owner=st.booleans(),
        token=st.integers(0, 1),
        reference=references,
        key=keys,
    )
    def pay_from_a_wallet(
        self,
        index: int,
        offset: int,
        share: int,
        by_owner: bool,
        token: int,
        reference: Text,
        key: Text,
    ) -> None:
        """A transfer of a share (in %) of what the sender holds, all of it or more (an
        overdraft), by an operator or by its owner."""
        ids = sorted(self.wallets)
        sender = self.wallets[ids[index % len(ids)]]
        receiver = ids[(index + offset) % len(ids)]
        if receiver == sender.id:
            receiver = ids[(index + 1) % len(ids)]
        value = max(
            Decimal("0.01"), (sender.balance * share / 100).quantize(Decimal("0.01"), ROUND_DOWN)
        )
        owner = sorted(self.clients).index(sender.client_id)
        caller = CallerRef("client", owner, token) if by_owner else OPERATOR
        self.transfer(
            caller,
            WalletId(str(sender.id), sender.id),
            WalletId(str(receiver), receiver),
            # a share of a large balance can be more than one operation may move: refused
            Amount(money(value), value if value <= MAX_AMOUNT else None),
            reference,
            key,
        )

    @precondition(lambda self: bool(self.wallets))
    @rule(index=st.integers(0, 1000), amount=invalid_amounts, by_transfer=st.booleans())
    def send_a_bad_amount(self, index: int, amount: Amount, by_transfer: bool) -> None:
        """Zero, signs, three decimals, exponents, above 10^15, not a number: InvalidInput."""
        ids = sorted(self.wallets)
        wallet = WalletId(str(ids[index % len(ids)]), ids[index % len(ids)])
        if by_transfer and len(ids) > 1:
            other = ids[(index + 1) % len(ids)]
            target = WalletId(str(other), other)
            self.transfer(OPERATOR, wallet, target, amount, Text(None), Text(None))
        else:
            self.resupply(OPERATOR, wallet, amount, Text(None), Text(None))

    @precondition(lambda self: bool(self.clients))
    @rule(
        index=st.integers(0, 1000),
        recase=st.sampled_from(["swapcase", "upper", "lower", "same"]),
        name=valid_names,
    )
    def claim_a_taken_login(self, index: int, recase: str, name: Name) -> None:
        """Logins are unique ignoring case."""
        self.create_client(OPERATOR, Login("taken", index=index, recase=recase), name, Text(None))

    @rule(caller=callers, login=logins, name=names, key=keys)
    def create_a_client(self, caller: CallerRef, login: Login, name: Name, key: Text) -> None:
        self.create_client(caller, login, name, key)

    @rule(caller=callers, wallet=wallet_refs, amount=amounts, reference=references, key=keys)
    def resupply_a_wallet(
        self, caller: CallerRef, wallet: WalletRef, amount: Amount, reference: Text, key: Text
    ) -> None:
        self.resupply(caller, self.wallet_id(wallet), amount, reference, key)

    @rule(
        caller=callers,
        sender=wallet_refs,
        receiver=wallet_refs,  # (not "target": that is a keyword of @rule)
        amount=amounts,
        reference=references,
        key=keys,
    )
    def transfer_money(
        self,
        caller: CallerRef,
        sender: WalletRef,
        receiver: WalletRef,
        amount: Amount,
        reference: Text,
        key: Text,
    ) -> None:
        self.transfer(
            caller, self.wallet_id(sender), self.wallet_id(receiver), amount, reference, key
        )

    def send_again(
        self, sent: Sent, respelling: int, as_number: bool, other_token: bool, change: bool
    ) -> None:
        """Send a mutation again: the same request (amounts possibly spelled differently, from
        another token of the same client), or with one parameter changed."""
        caller = sent.caller
        if other_token:
            caller = CallerRef(caller.kind, caller.index, 1 - caller.token)
        if sent.kind == "createClient":
            login, name, key = sent.args
            if change:
                name = Name("Changed " + name.stored[:50], valid=True)
            self.create_client(caller, login, name, key)
            return
        amount, reference, key = sent.args[-3:]
        if amount.value is not None:
            value = amount.value
            if change:
                value += Decimal("0.01") if value < MAX_AMOUNT else Decimal("-0.01")
            texts = spellings(value)
            text = texts[respelling % len(texts)]
            amount = Amount(Raw(text) if as_number else text, value)
        elif change:
            amount = Amount("1.00", Decimal("1.00"))
        if sent.kind == "resupply":
            self.resupply(caller, sent.args[0], amount, reference, key)
        else:
            self.transfer(caller, sent.args[0], sent.args[1], amount, reference, key)

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
        """Another client's wallet must look exactly like a wallet that does not exist."""
        ids = sorted(self.clients)
        ref = CallerRef("client", who, token)
        me = self.clients[ids[who % len(ids)]]
        other = self.clients[ids[(who + whose) % len(ids)]]
        if other.id == me.id:
            other = self.clients[ids[(who + 1) % len(ids)]]
        caller = self.caller(ref)
        mine = WalletId(str(me.wallet_id), me.wallet_id)
        answers = []
        for wallet_id in (other.wallet_id, self.highest_wallet + 1):  # theirs, and a missing one
            wallet = WalletId(str(wallet_id), wallet_id)
            sent = self.transfer(ref, wallet, mine, amount, Text(None), Text(None))
            read = self.call(caller, WALLET, {"id": str(wallet_id)})
            history = self.history(caller, wallet, 100)
            message = str(sent.get("message")).replace(f"Wallet {wallet_id} ", "Wallet <id> ")
            answers.append([{**sent, "walletId": "<id>", "message": message}, read, history])
        assert answers[0] == answers[1]
        # The other client itself, and (for a client) the resupply it may not do at all.
        assert self.call(caller, CLIENT, {"id": str(other.id)}) == {"client": None}
        self.resupply(
            ref, WalletId(str(me.wallet_id), me.wallet_id), amount, Text(None), Text(None)
        )

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
            wallet = self.wallets[client.wallet_id]
            expected = {
                "id": str(client.id),
                "login": client.login,
                "name": client.name,
                "wallets": [{"id": str(wallet.id), "balance": money(wallet.balance)}],
            }
        self.check({"client": expected}, data)

    @rule(caller=callers, index=st.integers(0, 1000), known=st.booleans())
    def read_a_transaction(self, caller: CallerRef, index: int, known: bool) -> None:
        who = self.caller(caller)
        numbers = list(self.transactions)
        number = numbers[index % len(numbers)] if known and numbers else str(uuid.uuid4())
        data = self.call(who, TRANSACTION, {"number": number})
        expected = None
        if (transaction := self.transactions.get(number)) is not None:
            legs = [
                {
                    "transactionNumber": number,
                    "kind": op.kind,
                    "amount": money(op.amount),
                    "balanceAfter": money(op.balance_after),
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
                    "amount": money(transaction.amount),
                    "reference": transaction.reference,
                    "legs": legs,
                }
        self.check({"transaction": expected}, data)

    @rule(caller=callers, wallet=wallet_refs, page=st.sampled_from([1, 2, 3, 100]))
    def read_a_history(self, caller: CallerRef, wallet: WalletRef, page: int) -> None:
        who, target = self.caller(caller), self.wallet_id(wallet)
        visible = self.visible_wallet(who, target.value)
        expected = None
        if visible is not None:
            expected = [self.shown_operation(who, op) for op in reversed(visible.history)]
        assert self.history(who, target, page) == expected

    # --- invariants

    @invariant()
    def balances_agree_and_add_up(self) -> None:
        operator = self.caller(OPERATOR)
        ids = [*sorted(self.wallets), self.highest_wallet + 1]  # and one that does not exist
        reported: dict[int, dict[str, Any] | None] = {}
        for start in range(0, len(ids), BALANCES_PER_REQUEST):
            chunk = ids[start : start + BALANCES_PER_REQUEST]
            fields = " ".join(f'w{i}: wallet(id: "{i}") {{ id balance }}' for i in chunk)
            data = self.call(operator, f"{{ {fields} }}", {})
            reported.update({i: data[f"w{i}"] for i in chunk})
        expected: dict[int, dict[str, Any] | None] = {
            i: {"id": str(i), "balance": money(w.balance)} for i, w in self.wallets.items()
        }
        expected[self.highest_wallet + 1] = None
        assert reported == expected
        balances = [Decimal(w["balance"]) for w in reported.values() if w is not None]
        assert sum(balances, Decimal("0.00")) == self.resupplied
        assert all(balance >= 0 for balance in balances)

    def teardown(self) -> None:
        report = self.server.run(audit(self.server.app.state.db.engine))
        assert report.ok, report.render()
        assert report.total_balance == self.resupplied


def test_the_ledger_agrees_with_its_model(settings: Settings) -> None:
    # given: the service on a real socket, over the test's fresh database
    with live_server(settings) as server, httpx.Client(timeout=30) as http:

        class Ledger(LedgerMachine):
            pass

        Ledger.server = server
        Ledger.http = http
        # when / then: random sequences of calls, each checked against the model
        run_state_machine_as_test(Ledger, settings=MODEL_SETTINGS)  # type: ignore[no-untyped-call, unused-ignore]  # typed from hypothesis 6.16x
