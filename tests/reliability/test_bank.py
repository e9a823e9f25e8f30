"""The bank test with faults, in a configuration short enough for CI (about 35 seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.pgbouncer import require_pgbouncer

from .bank import FAULTS, POOLED_FAULTS, Config, Report, run_bank

pytestmark = pytest.mark.slow


def assert_money_moved_exactly_once(report: Report) -> None:
    """The checks of every run: nothing the final checks found wrong, every snapshot summed to
    the total, no HTTP 500, every request settled, and the total unchanged to the cent."""
    assert report.problems == []
    assert report.wrong_reads == []
    assert report.http_500 == 0
    assert report.unresolved == 0
    assert report.drift == 0


def test_no_money_is_created_destroyed_or_moved_twice_under_faults(tmp_path: Path) -> None:
    # given: 50 wallets, 16 workers transferring, split-paying, holding, capturing, voiding and
    # refunding for 25 seconds, and on until every kind of fault has hit; 8 wallets followed over
    # subscriptions, and a webhook endpoint that refuses some deliveries
    config = Config(workers=16, duration=25, fault_pause=(1.0, 2.0), min_faults=len(FAULTS))
    # when
    report = run_bank(config, tmp_path)
    print(report.table())
    # then
    assert_money_moved_exactly_once(report)
    assert set(report.faults) == set(FAULTS)
    assert report.reads > 10
    assert report.count("transfer", "TransferSuccess") > 100
    # and every kind of movement happened, many times
    for operation, success in [
        ("splitTransfer", "SplitTransferSuccess"),
        ("holdTransfer", "HoldTransferSuccess"),
        ("captureHold", "CaptureHoldSuccess"),
        ("voidHold", "VoidHoldSuccess"),
        ("refund", "RefundSuccess"),
    ]:
        assert report.count(operation, success) > 10, report.outcomes
    # and the events reached both channels: the followers resumed after faults and still saw
    # each event once (a gap or a repeat is a problem above), and every event was delivered
    assert report.followed > 50
    assert report.resubscribed > 0
    assert report.replayed >= report.count("transfer", "TransferSuccess") * 2
    assert report.delivered == report.replayed


def test_two_nodes_through_pgbouncer_move_money_exactly_once_under_faults(tmp_path: Path) -> None:
    # given: the same traffic, spread over two API nodes that reach PostgreSQL through
    # PgBouncer (transaction pooling); one of them polls for revocations and events, the other
    # listens. Besides the faults above, whole nodes are SIGKILLed and started again, and
    # PgBouncer is restarted (every connection through it dropped)
    require_pgbouncer()
    config = Config(
        workers=16, duration=15, fault_pause=(0.5, 1.0), nodes=2, pgbouncer=True, min_faults=4
    )
    # when
    report = run_bank(config, tmp_path)
    print(report.table())
    # then: no money created, destroyed or moved twice; every key answered once
    assert_money_moved_exactly_once(report)
    # (the faults come in the order of POOLED_FAULTS; the run lasts until the first four came)
    assert set(POOLED_FAULTS[:4]) <= set(report.faults), report.faults
    assert report.count("transfer", "TransferSuccess") > 100
    assert report.count("captureHold", "CaptureHoldSuccess") > 10
    # and the events reached both channels across the nodes
    assert report.followed > 50
    assert report.delivered == report.replayed
