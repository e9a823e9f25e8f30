"""The report: a Markdown table, a JSON file and a PNG chart of the same results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tpbench.common import REQUESTS, SCENARIOS, Result, not_failed

CONFIG_LABELS = {
    "pgbench": "pgbench (a)",
    "asyncpg": "asyncpg (b)",
    "api-1w": "API, 1 worker",
    "api-2w": "API, 2 workers",
}
HEADLINE_CLIENTS = 32


def label(config: str) -> str:
    return CONFIG_LABELS.get(config, config)


def find(results: Sequence[Result], scenario: str, config: str, clients: int) -> Result | None:
    return next(
        (
            r
            for r in results
            if r.scenario == scenario and r.config == config and r.clients == clients
        ),
        None,
    )


def add_ratios(results: Sequence[Result]) -> None:
    """Each result's throughput as a fraction of pgbench's, same scenario and concurrency."""
    for result in results:
        base = find(results, result.scenario, "pgbench", result.clients)
        if base is not None and base.throughput > 0:
            result.ratio_to_pgbench = result.throughput / base.throughput


def ordered(results: Sequence[Result]) -> list[Result]:
    """By scenario, then configuration, then concurrency: how the table reads best."""
    scenarios = [s.name for s in SCENARIOS]
    configs = list(CONFIG_LABELS)

    def key(r: Result) -> tuple[int, int, int]:
        config = configs.index(r.config) if r.config in configs else len(configs)
        return (scenarios.index(r.scenario), config, r.clients)

    return sorted(results, key=key)


def _failed(result: Result) -> str:
    if not result.failed:
        return "0"
    kind = next(s.kind for s in SCENARIOS if s.name == result.scenario)
    parts = [f"{k} {v}" for k, v in sorted(result.outcomes.items()) if k not in not_failed(kind)]
    return f"{result.failed} ({', '.join(parts)})" if parts else str(result.failed)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f} %"


def _cpu(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} %"


def _cpu_per_op(result: Result) -> str:
    """The API's CPU per successful operation and, for several requests each, per request."""
    if result.server_cpu_ms_per_op is None:
        return ""
    kind = next(s.kind for s in SCENARIOS if s.name == result.scenario)
    requests = REQUESTS.get(kind, 1)
    text = f"{result.server_cpu_ms_per_op:.2f}"
    if requests > 1:
        text += f" ({result.server_cpu_ms_per_op / requests:.2f}/request)"
    return text


def headlines(results: Sequence[Result]) -> list[str]:
    lines = []
    api = find(results, "transfer-uniform", "api-2w", HEADLINE_CLIENTS)
    base = find(results, "transfer-uniform", "pgbench", HEADLINE_CLIENTS)
    if api is not None:
        versus = (
            f" = **{_pct(api.ratio_to_pgbench)} of pgbench** ({base.throughput:,.0f}/s,"
            f" p99 {base.p99_ms:.1f} ms)"
            if base is not None and api.ratio_to_pgbench is not None
            else ""
        )
        lines.append(
            f"- Uniform transfers, {HEADLINE_CLIENTS} clients, API with 2 workers:"
            f" **{api.throughput:,.0f}/s**{versus}; API p99 **{api.p99_ms:.1f} ms**,"
            f" API CPU {_cpu_per_op(api)} ms per transfer, failed {api.failed}."
        )
    api = find(results, "hold-capture", "api-2w", HEADLINE_CLIENTS)
    base = find(results, "hold-capture", "pgbench", HEADLINE_CLIENTS)
    if api is not None:
        versus = (
            f" = **{_pct(api.ratio_to_pgbench)} of pgbench** ({base.throughput:,.0f}/s)"
            if base is not None and api.ratio_to_pgbench is not None
            else ""
        )
        lines.append(
            f"- Hold + capture, {HEADLINE_CLIENTS} clients, API with 2 workers:"
            f" **{api.throughput:,.0f} holds captured/s**{versus}; p99 of both requests"
            f" {api.p99_ms:.1f} ms; API CPU {_cpu_per_op(api)} ms per hold + capture,"
            f" failed {api.failed}."
        )
    for scenario in ("transfer-hot", "transfer-pair"):
        cells = [
            r
            for r in results
            if r.scenario == scenario
            and r.clients == HEADLINE_CLIENTS
            and r.config in ("pgbench", "api-1w", "api-2w")
        ]
        if cells:
            title = next(s.title for s in SCENARIOS if s.name == scenario)
            parts = [f"{label(r.config)} {r.throughput:,.0f}/s, failed {r.failed}" for r in cells]
            lines.append(
                f"- {title[0].upper()}{title[1:]}, {HEADLINE_CLIENTS} clients: {'; '.join(parts)}."
            )
    return lines


def markdown(results: Sequence[Result], meta: dict[str, Any]) -> str:
    out = [
        "# Throughput: the API against PostgreSQL's own limit",
        "",
        f"{meta['started']}, {meta['machine']}; PostgreSQL {meta['postgres']}"
        f" ({meta['database']}); {meta['wallets']:,} wallets; {meta['duration']} s per"
        f" measurement; API load from {meta['generator']}; pgbench {meta['pgbench']}.",
        "",
        f"Code under test: {meta['code']}.",
        "",
        "Throughput counts successful operations only. *vs pgbench*: throughput as a share of"
        " baseline (a) at the same scenario and concurrency, measured in this run. *failed*:"
        " typed errors (TryAgain included), HTTP errors and socket errors. *retries*:"
        " serialization failures retried (pgbench and asyncpg count their own; for the API, the"
        " server's 'retrying transaction' log lines). CPU: % of one core for the load generator"
        " and for the API processes; the whole machine's busy share last. *API CPU ms/op*: the"
        " API processes' CPU time per successful operation. *hold-capture*: one operation is"
        " a holdTransfer and then a captureHold of that hold (two requests; two statements for"
        " the baselines); its latencies are those of both.",
        "",
    ]
    if meta.get("aborted"):
        out += [f"**The run was aborted after {len(results)} measurements: {meta['aborted']}**", ""]
    summary = headlines(results)
    if summary:
        out += ["## Headline", "", *summary, ""]
    out += [
        "## Results",
        "",
        "| scenario | config | clients | ops/s | vs pgbench | p50 ms | p95 ms | p99 ms"
        " | failed | retries | generator CPU | API CPU | API CPU ms/op | machine CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in ordered(results):
        out.append(
            f"| {r.scenario} | {label(r.config)} | {r.clients} | {r.throughput:,.0f}"
            f" | {_pct(r.ratio_to_pgbench)} | {r.p50_ms:.2f} | {r.p95_ms:.2f} | {r.p99_ms:.2f}"
            f" | {_failed(r)} | {r.retries} | {_cpu(r.generator_cpu_pct)}"
            f" | {_cpu(r.server_cpu_pct)} | {_cpu_per_op(r)} | {_cpu(r.machine_cpu_pct)} |"
        )
    out.append("")
    broken = [r for r in results if not r.conserved]
    out.append(
        f"Money conservation held after all {len(results)} measurements."
        if not broken
        else f"**Money conservation FAILED after {len(broken)} measurement(s).**"
    )
    out.append(f"Ledger audit at the end: {meta.get('audit', 'not run')}.")
    notes = [
        f"- {r.scenario} {label(r.config)} c={r.clients}: {n}"
        for r in ordered(results)
        for n in r.notes
    ]
    notes += [f"- {n}" for n in meta.get("notes", [])]
    if notes:
        out += ["", "Notes:", "", *notes]
    return "\n".join(out) + "\n"


def write_json(path: Path, results: Sequence[Result], meta: dict[str, Any]) -> None:
    data = {"meta": meta, "results": [asdict(r) for r in ordered(results)]}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def chart(path: Path, results: Sequence[Result], meta: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in SCENARIOS if any(r.scenario == s.name for r in results)]
    configs = [c for c in CONFIG_LABELS if any(r.config == c for r in results)]
    clients = sorted({r.clients for r in results})
    fig, axes = plt.subplots(len(scenarios), 2, figsize=(12, 3.2 * len(scenarios)), squeeze=False)
    for row, scenario in enumerate(scenarios):
        for col, (metric, unit) in enumerate((("throughput", "ops/s"), ("p99_ms", "p99 ms"))):
            ax = axes[row][col]
            for config in configs:
                cells = [find(results, scenario.name, config, c) for c in clients]
                points = [(c, getattr(r, metric)) for c, r in zip(clients, cells, strict=True) if r]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, marker="o", label=label(config))
            ax.set_xscale("log", base=2)
            ax.set_xticks(clients, [str(c) for c in clients])
            ax.set_yscale("log")  # equal vertical distances are equal ratios
            ax.set_title(f"{scenario.title}: {unit}", fontsize=10)
            ax.set_xlabel("concurrent clients")
            ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(
        f"Billing API vs pgbench and asyncpg baselines ({meta['started']}, {meta['machine']})",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=110)
    plt.close(fig)
