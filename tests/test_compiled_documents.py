"""Compiled plans (billing.graphql.compiled) answer exactly as graphql-core's executor does.

Three levels: a small schema of its own, where answers can be made to go wrong in every way
the specification describes (nulls where none may be, values a scalar refuses, resolvers that
raise, at once or after a wait), each document run both ways and compared; the service itself
over HTTP, where the documents clients send run with compiled plans on and off and must answer
alike, from the same statements; and queries generated over the whole schema, each sent twice:
first on Strawberry's full path, then on its compiled plan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries
from starlette.applications import Starlette
from strawberry.extensions import FieldExtension

from billing.graphql.compiled import Compiled, compile_
from billing.graphql.documents import selected
from billing.graphql.schema import BillingSchema
from billing.graphql.schema import schema as billing_schema
from support.api import Api, api_for, new_token

OPERATIONS = Path(__file__).resolve().parents[1] / "clients" / "operations"


@strawberry.type
class Leaf:
    name: str
    maybe: str | None = None

    @strawberry.field
    async def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    @staticmethod
    def via_parent(parent: strawberry.Parent[Leaf], info: strawberry.Info) -> str:
        return f"{parent.name} at {info.path.as_list()}"


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Inner:
    colours: list[Colour]
    note: str | None = None


@strawberry.input
class Ask:
    name: str
    colour: Colour
    inner: Inner | None = None
    inners: list[Inner] = strawberry.field(default_factory=list)
    when: datetime | None = None


class Louder(FieldExtension):
    """A field extension: it must run on the compiled path too."""

    def resolve(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        return f"{next_(source, info, **kwargs)}!".upper()


@strawberry.interface
class Named:
    label: str


@strawberry.type
class Thing(Named):
    id: strawberry.ID
    count: int
    tags: list[str | None]
    leaves: list[Leaf]
    nested: Leaf | None
    must: Leaf

    @strawberry.field
    async def later(self, times: int = 1) -> str | None:
        if self.label == "raise-later":
            raise RuntimeError("later failed")
        return None if self.label == "none-later" else "x" * times

    @strawberry.field
    async def must_later(self) -> str:
        if self.count == -2:
            raise RuntimeError("mustLater failed")
        return None if self.count == -1 else "ok"  # type: ignore[return-value]

    @strawberry.field
    def doubled(self) -> int:
        return self.count * 2

    @strawberry.field
    async def children(self) -> list[Leaf]:
        return self.leaves


@strawberry.type
class Oops(Named):
    code: str


Outcome = Annotated[Thing | Oops, strawberry.union("Outcome")]


def thing(**changes: Any) -> Thing:
    fields: dict[str, Any] = {
        "label": "a thing",
        "id": strawberry.ID("7"),
        "count": 3,
        "tags": ["x", None],
        "leaves": [Leaf(name="one"), Leaf(name="two", maybe="2")],
        "nested": Leaf(name="n"),
        "must": Leaf(name="m"),
    }
    fields.update(changes)
    return Thing(**fields)


# What the root resolvers answer, by the ``kind`` argument.
ANSWERS: dict[str, Any] = {
    "plain": thing(),
    "oops": Oops(label="refused", code="NOPE"),
    "null-count": thing(count=None),  # Int! is null: the thing becomes null
    "null-leaf-name": thing(nested=Leaf(name=None)),  # type: ignore[arg-type]
    "null-in-leaves": thing(leaves=[Leaf(name="one"), None]),  # [Leaf!]!: the thing is null
    "null-must-name": thing(must=Leaf(name=None)),  # type: ignore[arg-type]
    "bad-count": thing(count="many"),  # Int cannot represent it
    "bad-tag": thing(tags=["x", {"not": "a string"}]),
    "not-a-list": thing(tags=5),
    "later-raises": thing(label="raise-later"),
    "later-null": thing(label="none-later"),
    "must-later-null": thing(count=-1),  # a resolver's null where none may be
    "must-later-raises": thing(count=-2),
    "child-name-null": thing(leaves=[Leaf(name="one"), Leaf(name=None)]),  # type: ignore[arg-type]
}


@strawberry.type
class Query:
    @strawberry.field
    async def outcome(self, kind: str) -> Outcome | None:
        if kind == "raise":
            raise RuntimeError("the resolver failed")
        return ANSWERS[kind]  # type: ignore[no-any-return]

    @strawberry.field
    def must_outcome(self, kind: str) -> Outcome:
        if kind == "raise":
            raise RuntimeError("the resolver failed")
        return ANSWERS[kind]  # type: ignore[no-any-return]

    @strawberry.field
    async def leaf(self) -> Leaf:
        return Leaf(name="root")

    @strawberry.field
    def echo(self, info: strawberry.Info, ask: Ask, times: int = 1, tag: str | None = None) -> str:
        # what the resolver was given, types and all
        return repr((self, type(info), info.python_name, info.path.as_list(), ask, times, tag))

    @strawberry.field
    async def echo_later(self, ask: Ask, times: int = 1) -> str:
        return repr((self, ask, times))

    @strawberry.field(extensions=[Louder()])  # type: ignore[untyped-decorator]
    def loud(self, word: str) -> str:
        return word


@strawberry.type
class Refusal:
    reason: str


class Refuse(strawberry.ExceptionHandler[ValueError, Refusal]):
    """An exception handler of the schema: it must run on the compiled path too."""

    def handle(self, exception: ValueError, *, field: Any, info: Any) -> Refusal:
        return Refusal(reason=str(exception))


@strawberry.type
class HandledQuery:
    @strawberry.field
    async def checked(self, n: int) -> Annotated[Leaf | Refusal, strawberry.union("Checked")]:
        if n < 0:
            raise ValueError(f"{n} is negative")
        return Leaf(name=str(n))


HANDLED = strawberry.Schema(query=HandledQuery, exception_handlers=[Refuse()])


SMALL = strawberry.Schema(query=Query)

SELECTION = """
  __typename
  ... on Named { label }
  ... on Thing { id count tags leaves { name maybe } nested { name } must { name } }
  ... on Thing { later twice: later(times: 2) mustLater doubled children { shout name } }
  ... on Oops { code label }
  ...More
"""
FRAGMENT = "fragment More on Thing { again: count nested { maybe } }"

DOCUMENTS = [
    f"query($kind: String!) {{ outcome(kind: $kind) {{ {SELECTION} }} }} {FRAGMENT}",
    f"query($kind: String!) {{ it: mustOutcome(kind: $kind) {{ {SELECTION} }} }} {FRAGMENT}",
]


def plan_of(text: str, schema: strawberry.Schema = SMALL) -> Compiled | None:
    """The compiled plan of a valid document's operation, or None if it does not compile."""
    document = parse(text)
    operation = selected(document, None)
    assert operation is not None
    return compile_(schema._schema, document, operation)


async def both_ways(
    text: str, variables: dict[str, Any], schema: strawberry.Schema = SMALL
) -> tuple[ExecutionResult, ...]:
    plan = plan_of(text, schema)
    assert plan is not None, "the document compiles"
    general = execute(schema._schema, parse(text), variable_values=variables)
    if not isinstance(general, ExecutionResult):
        general = await general
    return await plan.run(None, None, variables), general


def answer(result: ExecutionResult) -> tuple[Any, list[Any]]:
    errors = sorted((e.formatted for e in result.errors or []), key=lambda e: str(e.get("path")))
    return result.data, errors


@pytest.mark.parametrize("kind", [*ANSWERS, "raise"])
@pytest.mark.parametrize("text", DOCUMENTS, ids=["nullable-root", "non-null-root"])
async def test_a_compiled_plan_answers_as_the_executor(text: str, kind: str) -> None:
    # when
    compiled, general = await both_ways(text, {"kind": kind})
    # then
    assert answer(compiled) == answer(general)


async def test_the_cases_above_do_go_wrong_as_intended() -> None:
    # Without this, the comparisons above could all be of answers without errors.
    compiled, _ = await both_ways(DOCUMENTS[0], {"kind": "null-in-leaves"})
    assert compiled.data == {"outcome": None}
    assert compiled.errors is not None
    assert compiled.errors[0].message == "Cannot return null for non-nullable field Thing.leaves."
    assert compiled.errors[0].path == ["outcome", "leaves", 1]
    compiled, _ = await both_ways(DOCUMENTS[1], {"kind": "raise"})
    assert compiled.data is None
    compiled, _ = await both_ways(DOCUMENTS[0], {"kind": "null-leaf-name"})
    assert compiled.data is not None
    assert compiled.data["outcome"]["nested"] is None
    # after a wait: a resolver's null where none may be nulls the object around it
    compiled, _ = await both_ways(DOCUMENTS[0], {"kind": "must-later-null"})
    assert compiled.data == {"outcome": None}
    assert compiled.errors is not None
    assert compiled.errors[0].path == ["outcome", "mustLater"]


async def test_variables_are_coerced_as_the_executor_does() -> None:
    for variables in ({}, {"kind": 5}, {"kind": None}):
        compiled, general = await both_ways(DOCUMENTS[0], variables)
        assert compiled.errors, variables
        assert answer(compiled) == answer(general)


ASK = {"name": "n", "colour": "RED", "inner": {"colours": ["BLUE", "RED"]}}
RESOLVED = [
    ("query($a: Ask!) { echo(ask: $a) }", {"a": ASK}),
    ("query($a: Ask!, $t: String) { e: echo(ask: $a, times: 3, tag: $t) }", {"a": ASK}),
    (
        "query($a: Ask!) { echo(ask: $a, tag: null) }",
        {"a": {**ASK, "inners": [{"colours": [], "note": "x"}], "when": "2026-01-02T03:04:05Z"}},
    ),
    ('{ echo(ask: {name: "lit", colour: BLUE, inners: [{colours: [RED]}]}, times: 2) }', {}),
    ("query($a: Ask!) { echoLater(ask: $a, times: 2) }", {"a": ASK}),
    ("{ leaf { name viaParent } }", {}),
    ("query($w: String!) { loud(word: $w) }", {"w": "hey"}),
]


@pytest.mark.parametrize(("text", "variables"), RESOLVED)
async def test_resolvers_get_what_strawberry_gives_them(
    text: str, variables: dict[str, Any]
) -> None:
    # Resolvers are called without Strawberry's wrapper where it adds nothing (see
    # direct_resolver): their arguments, converted, and their Info must be the same.
    compiled, general = await both_ways(text, variables)
    assert compiled.errors is None
    assert answer(compiled) == answer(general)


def test_resolvers_are_called_directly_unless_the_field_has_extensions() -> None:
    direct, louder = plan_of(RESOLVED[0][0]), plan_of(RESOLVED[-1][0])
    assert direct is not None
    assert louder is not None
    assert direct.root.direct is not None
    assert louder.root.direct is None  # Louder must run: the wrapper runs it


async def test_a_schema_with_exception_handlers_keeps_strawberrys_wrapper() -> None:
    text = "query($n: Int!) { checked(n: $n) { ... on Refusal { reason } ... on Leaf { name } } }"
    plan = plan_of(text, HANDLED)
    assert plan is not None
    assert plan.root.direct is None
    compiled, general = await both_ways(text, {"n": -1}, HANDLED)
    assert compiled.data == {"checked": {"reason": "-1 is negative"}}
    assert answer(compiled) == answer(general)


@pytest.mark.parametrize(
    "text",
    [
        '{ outcome(kind: "plain") { ... on Thing { count @include(if: true) } } }',
        "{ __typename }",
        "{ leaf { name } other: leaf { name } }",
        "query @deprecated { leaf { name } }",
    ],
    ids=["directive", "introspection", "two-root-fields", "operation-directive"],
)
def test_documents_the_plan_does_not_cover_take_the_executor(text: str) -> None:
    assert plan_of(text) is None


def compiles(name: str) -> bool:
    return plan_of((OPERATIONS / f"{name}.graphql").read_text(), billing_schema) is not None


def test_which_client_documents_compile() -> None:
    # Every query and mutation the typed clients send; not their subscription.
    for document in sorted(OPERATIONS.glob("*.graphql")):
        assert compiles(document.stem) == (document.stem != "WalletEvents"), document.stem


# The service: the same document, compiled plans on, then off.

TRANSFER = (OPERATIONS / "Transfer.graphql").read_text()
RESUPPLY = (OPERATIONS / "Resupply.graphql").read_text()
READ = "query($id: ID!) { wallet(id: $id) { __typename id balance currency } }"
READ_ALIASED = (
    "query($id: ID!) { w: wallet(id: $id) { b: balance ...F } } fragment F on Wallet { id }"
)
SUMMARY = "{ ledgerSummary { wallets totalBalance currencies { currency totalBalance } } }"


def client_document(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


@pytest.fixture
def general_too(monkeypatch: pytest.MonkeyPatch, plan_runs: list[str]) -> Any:
    """Runs a document with compiled plans, then on the general executor."""
    runs = plan_runs

    async def run(api: Api, text: str, variables: dict[str, Any]) -> tuple[Any, Any]:
        # The general executor first: it also answers a document's first request, which
        # parses and validates it.
        before = len(runs)
        monkeypatch.setattr(BillingSchema, "compile_documents", False)
        general = (await api.post(text, variables)).json()
        monkeypatch.setattr(BillingSchema, "compile_documents", True)
        assert len(runs) == before, "the general executor answered"
        compiled = (await api.post(text, variables)).json()
        assert len(runs) == before + 1, "the compiled plan answered"
        return compiled, general

    return run


def transfer_variables(source: str, target: str, amount: str, **more: Any) -> dict[str, Any]:
    return {"walletFromId": source, "walletToId": target, "amount": amount, **more}


async def test_reads_answer_alike(api: Api, general_too: Any) -> None:
    # given
    _, wallet = await api.create_client("reader")
    await api.resupply(wallet, "12.34")
    for text, variables in [
        (READ, {"id": wallet}),
        (READ, {"id": "999999"}),
        (READ, {"id": "not-a-number"}),
        (READ, {"id": None}),
        (READ_ALIASED, {"id": wallet}),
        (SUMMARY, {}),
    ]:
        # when
        compiled, general = await general_too(api, text, variables)
        # then
        assert compiled == general, (text, variables)
    assert compiled["data"]["ledgerSummary"]["wallets"] >= 1


async def test_refusals_answer_alike_and_change_nothing(api: Api, general_too: Any) -> None:
    # given
    _, payer = await api.create_client("payer")
    _, payee = await api.create_client("payee")
    await api.resupply(payer, "10.00")
    cases = [
        transfer_variables(payer, payee, "10.01"),  # InsufficientFunds
        transfer_variables(payer, "999999", "1.00"),  # WalletNotFound
        transfer_variables(payer, payer, "1.00"),  # InvalidInput: the same wallet
        transfer_variables(payer, payee, "-1.00"),  # InvalidInput: not positive
        transfer_variables(payer, payee, "abc"),  # not Money: a request error
        {"walletFromId": payer, "amount": "1.00"},  # a required variable missing
    ]
    for variables in cases:
        # when
        compiled, general = await general_too(api, TRANSFER, variables)
        # then
        assert compiled == general, variables
    assert await api.balance(payer) == "10.00"
    assert await api.balance(payee) == "0.00"


async def test_another_clients_wallet_is_refused_alike(app: Starlette, general_too: Any) -> None:
    # given: a client token, and a wallet of another client
    operator = await new_token(app)
    async with api_for(app, operator) as api:
        mine_client, mine = await api.create_client("mine")
        _, theirs = await api.create_client("theirs")
        await api.resupply(theirs, "5.00")
    async with api_for(app, await new_token(app, client_id=int(mine_client))) as client:
        # when
        compiled, general = await general_too(
            client, TRANSFER, transfer_variables(theirs, mine, "1.00")
        )
        read_compiled, read_general = await general_too(client, READ, {"id": theirs})
    # then
    assert compiled == general
    assert compiled["data"]["transfer"]["__typename"] != "TransferSuccess"
    assert read_compiled == read_general == {"data": {"wallet": None}}


async def test_a_payment_and_its_replay_answer_alike(api: Api, general_too: Any) -> None:
    # given
    _, payer = await api.create_client("payer")
    _, payee = await api.create_client("payee")
    await api.resupply(payer, "10.00")
    variables = transfer_variables(payer, payee, "2.50", idempotencyKey="compiled-1")
    # when: the first runs on the general executor, its replay on the compiled plan
    replay, first = await general_too(api, TRANSFER, variables)
    dry, dry_general = await general_too(
        api, TRANSFER, transfer_variables(payer, payee, "1.00", dryRun=True)
    )
    # then
    assert first["data"]["transfer"]["__typename"] == "TransferSuccess"
    assert first["data"]["transfer"]["replayed"] is False
    assert replay["data"]["transfer"]["replayed"] is True
    first["data"]["transfer"]["replayed"] = True
    assert first == replay
    # A dry run shows the number its transaction would have had: a fresh one each time.
    for answered in (dry, dry_general):
        assert answered["data"]["transfer"].pop("transactionNumber")
    assert dry == dry_general
    assert await api.balance(payer) == "7.50"


async def test_an_unexpected_fault_is_masked_alike(
    api: Api, general_too: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    _, wallet = await api.create_client("payer")
    from billing.domain import payments

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(payments, "resupply", broken)
    # when
    compiled, general = await general_too(api, RESUPPLY, {"walletId": wallet, "amount": "1.00"})
    # then: alike but for each request's own id
    ids = [answered["errors"][0]["extensions"]["requestId"] for answered in (compiled, general)]
    assert str(compiled).replace(ids[0], "ID") == str(general).replace(ids[1], "ID")
    assert compiled["data"] is None
    assert compiled["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert "secret" not in str(compiled)


async def test_documents_with_resolved_fields_answer_alike_with_the_same_statements(
    api: Api, general_too: Any, statements: list[str]
) -> None:
    # given: wallets with history and a pending hold, read with the typed clients' documents
    client, payer = await api.create_client("payer")
    _, payee = await api.create_client("payee")
    await api.resupply(payer, "10.00")
    await api.transfer(payer, payee, "1.25")
    held = await api.run(
        """mutation($i: HoldTransferInput!) { holdTransfer(input: $i) {
             ... on HoldTransferSuccess { hold { id } } } }""",
        {"i": {"walletFromId": payer, "walletToId": payee, "amount": "2.00"}},
    )
    hold = held["holdTransfer"]["hold"]["id"]
    for name, variables in [
        ("Wallet", {"id": payer}),
        ("Wallet", {"id": payer, "first": 1}),
        ("Wallets", {"ids": [payer, payee, "999999"]}),
        ("Client", {"id": client}),
        ("Hold", {"id": hold}),
        ("Withdraw", {"walletId": payer, "amount": "100.00"}),  # refused: InsufficientFunds
        ("Withdraw", {"walletId": payer, "amount": "0.50", "dryRun": True}),
        ("CaptureHold", {"holdId": hold, "amount": "5.00"}),  # refused: more than held
    ]:
        # when
        general_started = len(statements)
        compiled, general = await general_too(api, client_document(name), variables)
        # then: the same answer, from as many statements (the loaders batch alike)
        for answered in (compiled, general):
            answered.get("data", {}).get("withdraw", {}).pop("transactionNumber", None)
        assert compiled == general, (name, variables)
        assert "errors" not in compiled, compiled
        sent = statements[general_started:]
        half = len(sent) // 2
        assert len(sent) % 2 == 0, (name, sent)
        assert [s.split()[0] for s in sent[:half]] == [s.split()[0] for s in sent[half:]], name
    assert compiled["data"]["captureHold"]["__typename"] == "InvalidInput"


# Ids mostly of the seeded objects (1 to 4), sometimes anything; the other scalars plausible.
FUZZ_SCALARS = {
    "ID": st.one_of(
        st.integers(1, 4).map(str).map(nodes.String),
        st.text(max_size=5).map(nodes.String),
    ),
    "Int": st.integers(-2, 30).map(nodes.Int),
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda d: nodes.String(d.isoformat())),
    "UUID": st.uuids().map(str).map(nodes.String),
    "Money": st.sampled_from(["1.00", "0.01", "x"]).map(nodes.String),
    "Metadata": st.just(nodes.Object([])),
}


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_generated_queries_answer_alike_the_first_time_and_compiled(
    seeded_api: Api, plan_runs: list[str], data: st.DataObject
) -> None:
    # A document's first request takes Strawberry's full path; the same document again runs
    # on its compiled plan. Generated queries over the whole schema must answer alike.
    document = data.draw(queries(billing_schema.as_str(), custom_scalars=FUZZ_SCALARS))
    before = len(plan_runs)
    first = (await seeded_api.post(str(document))).json()
    again = (await seeded_api.post(str(document))).json()
    assert first == again, document
    # A valid document (it has data, if only null) of one root field ran on its plan; others
    # (refused by validation, several root fields) never do.
    parsed = parse(str(document))
    operation = selected(parsed, None)
    compiles = operation is not None and compile_(billing_schema._schema, parsed, operation)
    ran = len(plan_runs) - before
    assert ran >= 1 if ("data" in first and compiles) else ran == 0, (document, first)


@pytest.fixture
async def seeded_api(api: Api) -> Api:
    _, payer = await api.create_client("fuzz-payer")
    _, payee = await api.create_client("fuzz-payee")
    await api.resupply(payer, "100.00")
    await api.transfer(payer, payee, "12.50")
    await api.run(
        """mutation($i: HoldTransferInput!) { holdTransfer(input: $i) { __typename } }""",
        {"i": {"walletFromId": payer, "walletToId": payee, "amount": "3.00"}},
    )
    return api


@pytest.fixture
def plan_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The root field of every compiled plan run while the test runs."""
    runs: list[str] = []
    real_run = Compiled.run

    async def counted(self: Compiled, *args: Any) -> ExecutionResult:
        runs.append(self.root.key)
        return await real_run(self, *args)

    monkeypatch.setattr(Compiled, "run", counted)
    return runs
