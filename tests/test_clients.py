"""The typed clients in clients/: committed output matches a fresh generation, and both clients
work against the real service on a real socket, with money exact to the cent.

The generators (ariadne-codegen in its own virtualenv, GraphQL Code Generator and tsc from npm)
are installed inside the clone by ``clients/regenerate --tools``, once, and reused afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncGenerator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import asyncpg
import pytest

from billing.config import Settings
from billing_client import (
    BillingClient,
    CaptureHoldCaptureHoldCaptureHoldSuccess,
    CaptureHoldCaptureHoldHoldNotPending,
    CreateClientCreateClientCreateClientSuccess,
    ErrorCode,
    GraphQLClientHttpError,
    HoldStatus,
    HoldTransferHoldTransferHoldTransferSuccess,
    OperationKind,
    RefundRefundRefundExceedsRemaining,
    RefundRefundRefundSuccess,
    RefundRefundTransactionNotFound,
    ResupplyResupplyBalanceLimitExceeded,
    ResupplyResupplyInvalidInput,
    ResupplyResupplyPermissionDenied,
    ResupplyResupplyResupplySuccess,
    TransactionFilter,
    TransactionKind,
    TransferTransferInsufficientFunds,
    TransferTransferTransferSuccess,
    VoidHoldVoidHoldHoldNotPending,
    WalletEventKind,
    WalletEvents,
    WalletEventsWalletEventsWalletEvent,
    WalletEventsWalletEventsWalletNotFound,
)
from billing_client.generated.base_model import UNSET
from billing_client.scalars import parse_money, serialize_datetime, serialize_money
from support.live_server import LiveServer, live_server

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "clients"
REGENERATE = CLIENTS / "regenerate"
TYPESCRIPT = CLIENTS / "typescript"
LARGEST = Decimal("999999999999999999.99")  # the most a wallet may hold

pytestmark = pytest.mark.slow


def tool_env(**extra: str) -> dict[str, str]:
    """The environment with this interpreter's scripts (``billing``, ``python3``) first."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def run(
    *command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=tool_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def codegen_tools() -> None:
    """ariadne-codegen, GraphQL Code Generator and tsc, installed inside the clone."""
    done = run(REGENERATE, "--tools")
    assert done.returncode == 0, done.stdout + done.stderr


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as live:
        yield live


# --- the committed output is what the generators produce -------------------------------------


@pytest.mark.usefixtures("codegen_tools")
def test_committed_clients_are_what_the_schema_and_documents_generate() -> None:
    # when: both clients are generated afresh from the committed schema and documents
    done = run(REGENERATE, "--check")
    # then: byte for byte what is committed, and the TypeScript compiles
    assert done.returncode == 0, (
        f"{done.stdout}\n{done.stderr}\nrun clients/regenerate and commit the result"
    )


@pytest.mark.usefixtures("codegen_tools")
def test_a_changed_document_makes_the_check_fail_until_regenerated(tmp_path: Path) -> None:
    # given: a copy of the clone's inputs and output, sharing the installed generators
    copy = tmp_path / "repo"
    shutil.copytree(
        CLIENTS,
        copy / "clients",
        ignore=shutil.ignore_patterns("node_modules", ".codegen-venv", "__pycache__"),
    )
    shutil.copy(ROOT / "schema.graphql", copy / "schema.graphql")
    (copy / "clients/typescript/node_modules").symlink_to(TYPESCRIPT / "node_modules")
    shared = {"CODEGEN_VENV": str(CLIENTS / ".codegen-venv")}
    document = copy / "clients/operations/LedgerSummary.graphql"
    document.write_text(document.read_text().replace("    wallets\n", ""), encoding="utf-8")

    # when / then: the check names both stale outputs
    stale = run(copy / "clients/regenerate", "--check", env=shared)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "ledger_summary.py" in stale.stdout
    assert "graphql.ts" in stale.stdout
    assert "run clients/regenerate" in stale.stderr

    # when: regenerated in place
    written = run(copy / "clients/regenerate", env=shared)
    assert written.returncode == 0, written.stdout + written.stderr

    # then: the output follows the document, and a second generation is byte-identical
    python = (copy / "clients/python/src/billing_client/generated/ledger_summary.py").read_text()
    assert "total_balance" in python
    assert "wallets:" not in python
    again = run(copy / "clients/regenerate", "--check", env=shared)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (copy / "schema.graphql").read_text() == (ROOT / "schema.graphql").read_text()


def test_the_python_client_builds_as_its_own_typed_package(tmp_path: Path) -> None:
    # given: a copy of clients/python (building writes into the source tree)
    source = tmp_path / "source"
    shutil.copytree(
        CLIENTS / "python",
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    # when: it is built into a wheel on its own
    done = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path, source)
    assert done.returncode == 0, done.stdout + done.stderr

    # then: the wheel holds the hand-written modules, the generated ones and the type marker
    (wheel,) = tmp_path.glob("billing_client-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("__init__.py", "scalars.py", "py.typed", "generated/api_client.py"):
        assert f"billing_client/{name}" in names, sorted(names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Name: billing-client" in text
    assert re.search(r"^Requires-Dist: pydantic", text, re.MULTILINE)


# --- the Python client against the live service ----------------------------------------------


def test_money_travels_as_plain_decimal_strings_and_never_as_a_float() -> None:
    assert serialize_money(Decimal("0.10")) == "0.10"
    assert serialize_money(Decimal("1E+3")) == "1000"  # never exponent notation
    assert serialize_money(LARGEST) == "999999999999999999.99"
    assert serialize_money(UNSET) is UNSET  # optional variables that were not given
    assert serialize_money(None) is None
    with pytest.raises(TypeError, match="float"):
        serialize_money(0.1)
    with pytest.raises(ValueError, match="finite"):
        serialize_money(Decimal("NaN"))
    assert parse_money("999999999999999999.99") == LARGEST
    with pytest.raises(TypeError, match="string"):
        parse_money(0.3)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert serialize_datetime(moment) == "2026-01-02T03:04:05+00:00"


async def new_wallet(api: BillingClient, login: str) -> tuple[str, str]:
    """Create a client; return (client id, wallet id)."""
    created = (await api.create_client(login=login, name=f"Client {login}")).create_client
    assert isinstance(created, CreateClientCreateClientCreateClientSuccess), created
    assert created.wallet.balance == Decimal("0.00")
    return created.client.id, created.wallet.id


async def test_python_client_moves_exact_money_through_all_three_mutations(
    server: LiveServer, sql: asyncpg.Connection
) -> None:
    async with BillingClient(server.url, headers=bearer(server.token())) as api:
        # given: two clients, the first created with an idempotency key and then replayed
        key = str(uuid.uuid4())
        first = (await api.create_client("py-payer", "Payer", idempotency_key=key)).create_client
        replay = (await api.create_client("py-payer", "Payer", idempotency_key=key)).create_client
        assert isinstance(first, CreateClientCreateClientCreateClientSuccess)
        assert isinstance(replay, CreateClientCreateClientCreateClientSuccess)
        assert (first.replayed, replay.replayed) == (False, True)
        assert replay.client.id == first.client.id
        payer = first.wallet.id
        _, payee = await new_wallet(api, "py-payee")

        # when: 0.10 and then 0.20 are credited (0.1 + 0.2 != 0.3 in binary floating point)
        await api.resupply(payer, Decimal("0.10"))
        second = (await api.resupply(payer, Decimal("0.20"), reference="py-1")).resupply

        # then: exactly 0.30
        assert isinstance(second, ResupplyResupplyResupplySuccess)
        assert second.wallet_balance == Decimal("0.30")
        assert str(second.wallet_balance) == "0.30"
        assert (second.amount, second.reference, second.replayed) == (
            Decimal("0.20"),
            "py-1",
            False,
        )

        # when: all of it moves to the payee, with a reference and an idempotency key
        moved = (
            await api.transfer(
                payer, payee, Decimal("0.30"), reference="py-2", idempotency_key=str(uuid.uuid4())
            )
        ).transfer
        # then
        assert isinstance(moved, TransferTransferTransferSuccess)
        assert (moved.wallet_from_balance, moved.wallet_to_balance) == (
            Decimal("0.00"),
            Decimal("0.30"),
        )
        assert isinstance(moved.transaction_number, uuid.UUID)

        # when: the same again, from the now empty wallet
        refused = (await api.transfer(payer, payee, Decimal("0.30"))).transfer
        # then: a typed error with exact amounts
        assert isinstance(refused, TransferTransferInsufficientFunds)
        assert refused.code is ErrorCode.INSUFFICIENT_FUNDS
        assert (refused.wallet_id, refused.balance, refused.requested) == (
            payer,
            Decimal("0.00"),
            Decimal("0.30"),
        )
        assert "0.30" in refused.message

        # when: amounts beyond what a double holds exactly
        big = (await api.resupply(payee, Decimal("999999999999999.99"))).resupply
        assert isinstance(big, ResupplyResupplyResupplySuccess)
        assert big.wallet_balance == Decimal("1000000000000000.29")

        # given: a wallet 0.30 short of the largest balance (arranged in SQL: it would take a
        # thousand resupplies of the largest amount)
        _, full = await new_wallet(api, "py-full")
        await sql.execute(
            "UPDATE wallets SET balance = $1 WHERE id = $2", LARGEST - Decimal("0.30"), int(full)
        )
        topped = (await api.resupply(full, Decimal("0.30"))).resupply
        over = (await api.resupply(full, Decimal("0.01"))).resupply
        down = (await api.transfer(full, payer, Decimal("0.99"))).transfer
        # then: exact to the last cent
        assert isinstance(topped, ResupplyResupplyResupplySuccess)
        assert topped.wallet_balance == LARGEST
        assert isinstance(over, ResupplyResupplyBalanceLimitExceeded)
        assert (over.code, over.limit) == (ErrorCode.BALANCE_LIMIT_EXCEEDED, LARGEST)
        assert isinstance(down, TransferTransferTransferSuccess)
        assert down.wallet_from_balance == Decimal("999999999999999999.00")

        # and: an amount with too many decimals is refused by the API, not rounded
        rounded = (await api.resupply(payer, Decimal("0.001"))).resupply
        assert isinstance(rounded, ResupplyResupplyInvalidInput)
        assert rounded.field == "amount"

    # and: the database holds what the client was told
    balances = dict(await sql.fetch("SELECT id::text, balance FROM wallets"))
    assert balances == {
        payer: Decimal("0.99"),
        payee: Decimal("1000000000000000.29"),
        full: Decimal("999999999999999999.00"),
    }


async def test_python_client_reads_typed_history_and_snapshots(server: LiveServer) -> None:
    async with BillingClient(server.url, headers=bearer(server.token())) as api:
        # given: a resupply and a transfer
        owner, payer = await new_wallet(api, "py-reader")
        _, payee = await new_wallet(api, "py-other")
        await api.resupply(payer, Decimal("10.05"), reference="in")
        moved = (await api.transfer(payer, payee, Decimal("0.05"), reference="out")).transfer
        assert isinstance(moved, TransferTransferTransferSuccess)
        after = datetime.now(UTC)

        # when / then: the wallet with its history, newest first, in Python types
        wallet = (await api.wallet(payer, first=10)).wallet
        assert wallet is not None
        assert wallet.balance == Decimal("10.00")
        assert wallet.client.id == owner
        nodes = [edge.node for edge in wallet.operations.edges]
        assert [(n.kind, n.amount, n.balance_after, n.reference) for n in nodes] == [
            (OperationKind.TRANSFER_OUT, Decimal("-0.05"), Decimal("10.00"), "out"),
            (OperationKind.RESUPPLY, Decimal("10.05"), Decimal("10.05"), "in"),
        ]
        assert nodes[0].transaction_number == moved.transaction_number
        assert nodes[0].counterparty_wallet_id == payee
        assert all(n.created_at.tzinfo is not None and n.created_at <= after for n in nodes)
        assert wallet.operations.page_info.has_next_page is False

        # a page of one, then the next one after its cursor
        page = (await api.wallet(payer, first=1)).wallet
        assert page is not None
        assert page.operations.page_info.has_next_page is True
        rest = (await api.wallet(payer, first=1, after=page.operations.page_info.end_cursor)).wallet
        assert rest is not None
        assert [e.node.kind for e in rest.operations.edges] == [OperationKind.RESUPPLY]

        transaction = (await api.transaction(moved.transaction_number)).transaction
        assert transaction is not None
        assert (transaction.kind, transaction.amount) == (TransactionKind.TRANSFER, Decimal("0.05"))
        assert sorted((leg.wallet.id, leg.amount) for leg in transaction.legs) == sorted(
            [(payer, Decimal("-0.05")), (payee, Decimal("0.05"))]
        )

        then = (await api.balance_at(payer, datetime(2000, 1, 1, tzinfo=UTC))).wallet
        now = (await api.balance_at(payer, after)).wallet
        assert then is not None
        assert then.balance_at is None
        assert now is not None
        assert now.balance_at == Decimal("10.00")

        client = (await api.client(owner)).client
        assert client is not None
        assert [(w.id, w.balance) for w in client.wallets] == [(payer, Decimal("10.00"))]
        wallets = (await api.wallets([payee, "999999", payer])).wallets
        assert [w.balance if w else None for w in wallets] == [
            Decimal("0.05"),
            None,
            Decimal("10.00"),
        ]
        summary = (await api.ledger_summary()).ledger_summary
        assert summary is not None
        assert (summary.wallets, summary.total_balance, summary.total_resupplied) == (
            2,
            Decimal("10.05"),
            Decimal("10.05"),
        )
        assert (await api.client("999999")).client is None


async def test_python_client_sends_its_headers_and_gets_typed_refusals(server: LiveServer) -> None:
    async with BillingClient(server.url, headers=bearer(server.token())) as operator:
        client_id, wallet = await new_wallet(operator, "py-limited")
    # given: a client token, which may not resupply
    async with BillingClient(server.url, headers=bearer(server.token(int(client_id)))) as own:
        # when / then: a typed refusal, and the wallet is unchanged
        denied = (await own.resupply(wallet, Decimal("1.00"))).resupply
        assert isinstance(denied, ResupplyResupplyPermissionDenied)
        assert (denied.code, denied.operation) == (ErrorCode.PERMISSION_DENIED, "resupply")
        seen = (await own.wallet(wallet)).wallet
        assert seen is not None
        assert seen.balance == Decimal("0.00")
    # given: no valid token
    async with BillingClient(server.url, headers=bearer("bk_not-a-token")) as stranger:
        # when / then: the whole request is refused over HTTP
        with pytest.raises(GraphQLClientHttpError) as refused:
            await stranger.ledger_summary()
        assert refused.value.status_code == 401


async def test_python_client_holds_captures_part_and_refunds_exactly(
    server: LiveServer, sql: asyncpg.Connection
) -> None:
    async with BillingClient(server.url, headers=bearer(server.token())) as api:
        # given: a payer with 100.00 and a payee
        _, payer = await new_wallet(api, "py-hold-payer")
        _, payee = await new_wallet(api, "py-hold-payee")
        await api.resupply(payer, Decimal("100.00"))
        order = {"order": "7", "channel": "web"}

        # when: a dry run of a hold of 30.00 (without expiresAt: the default), then the hold
        # itself with an explicit expiresAt, sent twice with one key
        trial = (
            await api.hold_transfer(payer, payee, Decimal("30.00"), dry_run=True)
        ).hold_transfer
        key = str(uuid.uuid4())
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

        async def hold_30() -> HoldTransferHoldTransferHoldTransferSuccess:
            answer = (
                await api.hold_transfer(
                    payer,
                    payee,
                    Decimal("30.00"),
                    expires_at=expires,
                    reference="order-7",
                    metadata=order,
                    idempotency_key=key,
                )
            ).hold_transfer
            assert isinstance(answer, HoldTransferHoldTransferHoldTransferSuccess), answer
            return answer

        held = await hold_30()
        replayed = await hold_30()
        # then: the dry run answered without a hold; the hold reserves 30.00 of the balance
        assert isinstance(trial, HoldTransferHoldTransferHoldTransferSuccess), trial
        assert (trial.dry_run, trial.hold) == (True, None)
        assert timedelta(days=6) < trial.expires_at - datetime.now(UTC) <= timedelta(days=7)
        assert held.hold is not None
        hold_id = held.hold.id
        assert (held.dry_run, held.replayed, held.amount) == (False, False, Decimal("30.00"))
        assert (held.hold.status, held.hold.amount, held.hold.currency) == (
            HoldStatus.PENDING,
            Decimal("30.00"),
            "USD",
        )
        assert (held.hold.wallet_from_id, held.hold.wallet_to_id) == (payer, payee)
        assert (held.hold.reference, held.hold.metadata) == ("order-7", order)
        assert held.hold.expires_at == held.expires_at == expires
        assert (held.wallet_from.balance, held.wallet_from.held, held.wallet_from.available) == (
            Decimal("100.00"),
            Decimal("30.00"),
            Decimal("70.00"),
        )
        assert replayed.replayed is True
        assert replayed.hold is not None
        assert replayed.hold.id == hold_id

        # when: more than the available balance is spent
        short = (await api.transfer(payer, payee, Decimal("70.01"))).transfer
        # then: refused against what is available, not the balance
        assert isinstance(short, TransferTransferInsufficientFunds), short
        assert (short.balance, short.available, short.requested) == (
            Decimal("100.00"),
            Decimal("70.00"),
            Decimal("70.01"),
        )

        # when: 12.50 of the 30.00 is captured; the rest is released
        captured = (await api.capture_hold(hold_id, amount=Decimal("12.50"))).capture_hold
        # then
        assert isinstance(captured, CaptureHoldCaptureHoldCaptureHoldSuccess), captured
        assert captured.amount == Decimal("12.50")
        assert (captured.hold.status, captured.hold.amount, captured.hold.captured_amount) == (
            HoldStatus.CAPTURED,
            Decimal("30.00"),
            Decimal("12.50"),
        )
        assert captured.hold.resolved_at is not None
        wallet_from = captured.wallet_from
        assert (wallet_from.balance, wallet_from.held, wallet_from.available) == (
            Decimal("87.50"),
            Decimal("0.00"),
            Decimal("87.50"),
        )
        assert captured.wallet_to is not None
        assert (captured.wallet_to.balance, captured.wallet_to.available) == (
            Decimal("12.50"),
            Decimal("12.50"),
        )
        # and a hold resolves once
        again = (await api.capture_hold(hold_id)).capture_hold
        assert isinstance(again, CaptureHoldCaptureHoldHoldNotPending), again
        assert (again.code, again.hold_id, again.hold_status) == (
            ErrorCode.HOLD_NOT_PENDING,
            hold_id,
            "CAPTURED",
        )
        voided = (await api.void_hold(hold_id)).void_hold
        assert isinstance(voided, VoidHoldVoidHoldHoldNotPending), voided

        # when: 5.00 of the capture is refunded, then more than remains, then the rest
        capture = captured.transaction_number
        part = (
            await api.refund(capture, amount=Decimal("5.00"), reference="r-1", metadata=order)
        ).refund
        too_much = (await api.refund(capture, amount=Decimal("7.51"))).refund
        rest = (await api.refund(capture)).refund
        unknown = uuid.uuid4()
        missing = (await api.refund(unknown)).refund
        # then: money goes back exactly, and never more than was captured
        assert isinstance(part, RefundRefundRefundSuccess), part
        assert (part.refund_of, part.amount, part.remaining) == (
            capture,
            Decimal("5.00"),
            Decimal("7.50"),
        )
        assert part.wallet_to is not None
        assert (part.wallet_to.id, part.wallet_to.balance, part.wallet_to.available) == (
            payer,
            Decimal("92.50"),
            Decimal("92.50"),
        )
        assert [(leg.wallet_id, leg.amount) for leg in part.wallets_from] == [
            (payee, Decimal("5.00"))
        ]
        assert part.wallets_from[0].wallet is not None
        assert part.wallets_from[0].wallet.balance == Decimal("7.50")
        assert isinstance(too_much, RefundRefundRefundExceedsRemaining), too_much
        assert (too_much.transaction_number, too_much.remaining, too_much.requested) == (
            capture,
            Decimal("7.50"),
            Decimal("7.51"),
        )
        assert isinstance(rest, RefundRefundRefundSuccess), rest
        assert (rest.amount, rest.remaining) == (Decimal("7.50"), Decimal("0.00"))
        assert rest.wallet_to is not None
        assert rest.wallet_to.balance == Decimal("100.00")
        assert isinstance(missing, RefundRefundTransactionNotFound), missing
        assert (missing.code, missing.transaction_number) == (
            ErrorCode.TRANSACTION_NOT_FOUND,
            unknown,
        )

        # and the reads agree: the hold, the capture with its refunds, both wallets, the ledger
        hold = (await api.hold(hold_id)).hold
        assert hold is not None
        assert (hold.status, hold.captured_amount) == (HoldStatus.CAPTURED, Decimal("12.50"))
        assert [t.kind for t in hold.transactions] == [
            TransactionKind.HOLD,
            TransactionKind.CAPTURE,
        ]
        assert hold.transactions[1].number == capture
        transaction = (await api.transaction(capture)).transaction
        assert transaction is not None
        assert (transaction.kind, transaction.amount, transaction.refundable) == (
            TransactionKind.CAPTURE,
            Decimal("12.50"),
            Decimal("0.00"),
        )
        assert [(r.number, r.amount) for r in transaction.refunds] == [
            (part.transaction_number, Decimal("5.00")),
            (rest.transaction_number, Decimal("7.50")),
        ]
        assert transaction.hold is not None
        assert transaction.hold.id == hold_id
        wallets = (await api.wallets([payer, payee])).wallets
        assert [(w.balance, w.held, w.available) if w else None for w in wallets] == [
            (Decimal("100.00"), Decimal("0.00"), Decimal("100.00")),
            (Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
        ]
        tagged = (await api.transactions(TransactionFilter(metadata=order))).transactions
        assert [(e.node.kind, e.node.amount) for e in tagged.edges] == [
            (TransactionKind.REFUND, Decimal("5.00")),
            (TransactionKind.HOLD, Decimal("30.00")),
        ]
        summary = (await api.ledger_summary()).ledger_summary
        assert summary is not None
        (usd,) = summary.currencies
        assert (usd.currency, usd.total_balance, usd.total_held) == (
            "USD",
            Decimal("100.00"),
            Decimal("0.00"),
        )

    # and: the database holds what the client was told
    rows = await sql.fetch("SELECT id::text, balance, held FROM wallets ORDER BY id")
    assert [tuple(row) for row in rows] == [
        (payer, Decimal("100.00"), Decimal("0.00")),
        (payee, Decimal("0.00"), Decimal("0.00")),
    ]


async def test_python_client_follows_a_wallets_events_and_resumes_from_a_cursor(
    server: LiveServer,
) -> None:
    token = server.token()
    ws_url = server.url.replace("http://", "ws://", 1)
    async with BillingClient(
        server.url, headers=bearer(token), ws_url=ws_url, ws_connection_init_payload=bearer(token)
    ) as api:
        # given: a wallet with one event so far
        owner, payer = await new_wallet(api, "py-events")
        _, payee = await new_wallet(api, "py-events-to")
        await api.resupply(payer, Decimal("5.00"))

        # when: its events are followed, and money moves meanwhile
        stream = cast(AsyncGenerator[WalletEvents, None], api.wallet_events(payer))
        try:
            first = (await asyncio.wait_for(anext(stream), 10)).wallet_events
            await api.transfer(payer, payee, Decimal("1.50"), metadata={"order": "9"})
            second = (await asyncio.wait_for(anext(stream), 10)).wallet_events
        finally:
            await stream.aclose()
        # then: typed events, money as Decimal, in order
        assert isinstance(first, WalletEventsWalletEventsWalletEvent), first
        assert isinstance(second, WalletEventsWalletEventsWalletEvent), second
        assert (first.sequence, first.kind, first.amount, first.balance) == (
            1,
            WalletEventKind.RESUPPLY,
            Decimal("5.00"),
            Decimal("5.00"),
        )
        assert (second.sequence, second.kind, second.amount, second.available) == (
            2,
            WalletEventKind.TRANSFER,
            Decimal("-1.50"),
            Decimal("3.50"),
        )
        assert second.metadata == {"order": "9"}
        assert second.transaction_number is not None

        # when: resumed from the first event's cursor
        resumed = cast(
            AsyncGenerator[WalletEvents, None], api.wallet_events(payer, after=first.cursor)
        )
        try:
            again = (await asyncio.wait_for(anext(resumed), 10)).wallet_events
        finally:
            await resumed.aclose()
        # then: the next one, the same event
        assert isinstance(again, WalletEventsWalletEventsWalletEvent), again
        assert (again.id, again.sequence) == (second.id, 2)

    # and a client token's subscription to another client's wallet: not found
    client_token = server.token(int(owner))
    async with BillingClient(
        server.url, ws_url=ws_url, ws_connection_init_payload=bearer(client_token)
    ) as mine:
        other = cast(AsyncGenerator[WalletEvents, None], mine.wallet_events(payee))
        try:
            refused = (await asyncio.wait_for(anext(other), 10)).wallet_events
        finally:
            await other.aclose()
    assert isinstance(refused, WalletEventsWalletEventsWalletNotFound), refused
    assert (refused.code, refused.wallet_id) == (ErrorCode.WALLET_NOT_FOUND, payee)


def test_the_documented_python_example_runs_as_printed(server: LiveServer) -> None:
    page = (ROOT / "docs" / "clients.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    done = subprocess.run(
        [sys.executable, "-c", example],
        env=tool_env(
            BILLING_URL=server.url,
            BILLING_TOKEN=server.token(),
            PYTHONPATH=str(CLIENTS / "python" / "src"),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Bob holds 0.30\n"


# --- the TypeScript documents against the live service ---------------------------------------


@pytest.mark.usefixtures("codegen_tools")
def test_typescript_documents_move_exact_money_against_the_live_service(
    server: LiveServer, tmp_path: Path
) -> None:
    # given: the end-to-end script compiled to JavaScript, and a wallet 0.30 short of the largest
    # balance (arranged in SQL, as above)
    compiled = run(TYPESCRIPT / "node_modules/.bin/tsc", "--outDir", tmp_path, cwd=TYPESCRIPT)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (tmp_path / "package.json").write_text('{"type": "module"}\n', encoding="utf-8")
    # (the WebSocket client it imports at run time: graphql-ws, and ws for Node)
    (tmp_path / "node_modules").symlink_to(TYPESCRIPT / "node_modules")
    token = server.token()

    async def arrange_full_wallet() -> str:
        from sqlalchemy import text

        async with server.app.state.db.engine.begin() as conn:
            client = await conn.execute(
                text("INSERT INTO clients (login, name) VALUES ('ts-full', 'Full') RETURNING id")
            )
            wallet = await conn.execute(
                text(
                    "INSERT INTO wallets (client_id, currency, exponent, balance, held)"
                    " VALUES (:c, 'USD', 2, :b, 0.00) RETURNING id"
                ),
                {"c": client.scalar_one(), "b": LARGEST - Decimal("0.30")},
            )
            return str(wallet.scalar_one())

    full = server.run(arrange_full_wallet())

    # when: the script runs with Node against the service
    done = run(
        "node",
        tmp_path / "e2e" / "roundtrip.js",
        env={"BILLING_URL": server.url, "BILLING_TOKEN": token, "BILLING_FULL_WALLET_ID": full},
    )

    # then: its own assertions passed, and what it saw is exact to the cent
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout)
    assert seen["afterResupplies"] == "0.30"
    assert seen["transfer"]["walletFromBalance"] == "0.00"
    assert seen["transfer"]["walletToBalance"] == "0.30"
    uuid.UUID(seen["transfer"]["transactionNumber"])
    assert seen["insufficientFunds"] == {
        "code": "INSUFFICIENT_FUNDS",
        "balance": "0.00",
        "requested": "0.30",
    }
    assert seen["large"] == {
        "payeeBalance": "1000000000000000.29",
        "fullBalance": "999999999999999999.99",
        "limit": "999999999999999999.99",
        "afterTransfer": "999999999999999999.00",
    }
    assert seen["walletBalance"] == "1000000000000000.29"
    assert {k: v for k, v in seen["hold"].items() if k != "ids"} == {
        "held": ["100.00", "30.00", "70.00"],
        "captured": "12.50",
        "afterCapture": ["87.50", "0.00", "87.50"],
        "refunds": ["5.00", "7.50"],
        "remaining": "0.00",
        "after": [["100.00", "0.00", "100.00"], ["0.00", "0.00", "0.00"]],
    }
    assert seen["unauthenticated"] == 401
    # the buyer's events over a WebSocket: its history, then two transfers while subscribed
    assert seen["events"] == {
        "items": [
            [1, "RESUPPLY", "100.00", "0.00", "100.00", "100.00"],
            [2, "HOLD", "0.00", "30.00", "100.00", "70.00"],
            [3, "CAPTURE", "-12.50", "-30.00", "87.50", "87.50"],
            [4, "REFUND", "5.00", "0.00", "92.50", "92.50"],
            [5, "REFUND", "7.50", "0.00", "100.00", "100.00"],
            [6, "TRANSFER", "-1.00", "0.00", "99.00", "99.00"],
            [7, "TRANSFER", "1.00", "0.00", "100.00", "100.00"],
        ],
        "resumed": [6, "TRANSFER", "-1.00"],
        "notFound": "WALLET_NOT_FOUND",
    }

    # and: the ledger agrees (read with the service's own handle, not through the script)
    async def balances() -> dict[str, Decimal]:
        from sqlalchemy import text

        async with server.app.state.db.engine.connect() as conn:
            rows = await conn.execute(text("SELECT id::text, balance FROM wallets ORDER BY id"))
            return {row[0]: row[1] for row in rows}

    stored = server.run(balances())
    assert stored[full] == Decimal("999999999999999999.00")
    buyer, seller = seen["hold"]["ids"]
    assert (stored[buyer], stored[seller]) == (Decimal("100.00"), Decimal("0.00"))
    assert sum(stored.values()) == Decimal(seen["totalBalance"])
