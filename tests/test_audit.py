"""`billing audit`: a clean ledger passes; each kind of corruption is named."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest
from starlette.applications import Starlette

from billing.domain.audit import audit
from support.api import Api
from support.postgres import PgServer


@pytest.fixture
async def ledger(api: Api) -> dict[str, str]:
    """Three wallets with resupplies and transfers between them."""
    wallets = {name: (await api.create_client(name))[1] for name in ("ann", "bob", "cat")}
    await api.resupply(wallets["ann"], "100.00")
    await api.resupply(wallets["bob"], "50.00")
    await api.transfer(wallets["ann"], wallets["bob"], "30.00")
    await api.transfer(wallets["bob"], wallets["cat"], "10.00")
    return wallets


async def test_clean_ledger_passes(app: Starlette, ledger: dict[str, str]) -> None:
    report = await audit(app.state.db.engine)
    assert report.ok, report.render()
    assert (report.wallets, report.transactions, report.operations) == (3, 4, 6)
    assert f"{report.total_balance:.2f}" == "150.00"
    assert report.render().endswith("Ledger is consistent.")


@pytest.mark.parametrize(
    ("corruption", "check", "named"),
    [
        (
            "UPDATE wallets SET balance = balance + 1 WHERE id = {bob}",
            "balance equals the sum",
            "wallet {bob}: balance 71.00, but its operations sum to 70.00",
        ),
        (
            "DELETE FROM wallet_operations WHERE id = (SELECT max(id) FROM wallet_operations"
            " WHERE wallet_id = {cat})",
            "legs its kind requires",
            "1 leg(s) summing to -10.00",
        ),
        (
            "UPDATE wallet_operations SET balance_after = balance_after + 5"
            " WHERE id = (SELECT min(id) FROM wallet_operations WHERE wallet_id = {ann})",
            "follows from the previous one",
            "of wallet {ann}: previous balance 105.00 - 30.00 gives 75.00, not 70.00",
        ),
        (
            "UPDATE transactions SET amount = 60.00 WHERE kind = 'RESUPPLY' AND amount = 50",
            "legs its kind requires",
            "(RESUPPLY of 60.00): 1 leg(s) summing to 50.00",
        ),
        (
            "ALTER TABLE wallets DROP CONSTRAINT ck_wallets_balance_not_negative;"
            " UPDATE wallets SET balance = -1.00 WHERE id = {cat}",
            "no balance is negative",
            "wallet {cat}: negative balance -1.00",
        ),
        (
            "UPDATE wallet_operations SET transaction_id = 987654"
            " WHERE id = (SELECT min(id) FROM wallet_operations WHERE wallet_id = {cat})",
            "links to what exists",
            "of wallet {cat}: transaction 987654 does not exist",
        ),
        (
            "UPDATE transactions SET amount = 99.00 WHERE kind = 'RESUPPLY' AND amount = 100;"
            " UPDATE wallet_operations SET amount = 99.00, balance_after = 99.00"
            " WHERE amount = 100",
            "resupplied less what was withdrawn",
            "USD: balances total 150.00, but resupplies 149.00 less withdrawals 0",
        ),
    ],
)
async def test_corruption_is_named(
    app: Starlette,
    sql: asyncpg.Connection,
    ledger: dict[str, str],
    corruption: str,
    check: str,
    named: str,
) -> None:
    # given: one row changed behind the service's back
    await sql.execute(corruption.format(**ledger))
    # when
    report = await audit(app.state.db.engine)
    # then
    assert not report.ok
    rendered = report.render()
    assert any(check in f.check for f in report.findings), rendered
    assert named.format(**ledger) in rendered, rendered
    assert rendered.endswith("Ledger has violations.")


async def test_audit_command_exit_status(
    pg_server: PgServer, database: str, sql: asyncpg.Connection, ledger: dict[str, str]
) -> None:
    async def run() -> subprocess.CompletedProcess[str]:
        # In a thread: the app of the ledger fixture runs on this event loop (its relay sweeps
        # holds every second). Blocked, it could leave a statement of its own half sent, which
        # the audit's DEFERRABLE snapshot would wait for until its statement timeout.
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "billing.cli", "audit"],
            env={"BILLING_DATABASE_URL": pg_server.dsn(database), "PATH": ""},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    clean = await run()
    assert clean.returncode == 0, clean.stderr
    assert "Ledger is consistent." in clean.stdout
    await sql.execute(
        "UPDATE wallets SET balance = balance + 0.01 WHERE id = $1", int(ledger["ann"])
    )
    broken = await run()
    assert broken.returncode == 1
    assert (
        f"wallet {ledger['ann']}: balance 70.01, but its operations sum to 70.00" in broken.stdout
    )
