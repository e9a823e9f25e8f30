"""The README's examples run as documented, and its two commands are the ones CI uses."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from support.api import Api

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(README)]


BASE = "http://127.0.0.1:8000/"
REST_PATHS = {"/clients", "/resupplies", "/transfers"}


@dataclass(frozen=True)
class Example:
    path: str
    body: bytes
    headers: dict[str, str]
    expected: str


def curl(text: str, expected: str) -> Example:
    """A curl command: its URL, its -H headers (but the token) and its -d body, as written."""
    words = shlex.split(text.replace("\\\n", " "))
    url = next(w for w in words if w.startswith("http"))
    assert url.startswith(BASE), url
    headers = {}
    for flag, value in itertools.pairwise(words):
        if flag == "-H" and not value.startswith("Authorization:"):
            name, _, given = value.partition(":")
            headers[name] = given.strip()
    body = words[words.index("-d") + 1].encode()
    return Example("/" + url.removeprefix(BASE), body, headers, expected)


def examples() -> list[Example]:
    """Each request block (GraphQL or curl) followed by a json block with its answer."""
    found = []
    items = blocks()
    for (kind, text), (next_kind, expected) in itertools.pairwise(items):
        if next_kind != "json":
            continue
        if kind == "graphql":
            body = json.dumps({"query": text}).encode()
            found.append(Example("/graphql", body, {"Content-Type": "application/json"}, expected))
        elif kind == "sh" and text.lstrip().startswith("curl"):
            found.append(curl(text, expected))
    return found


def parse(text: str) -> Any:
    """JSON with numbers kept as written: 500.50 and 500.5 differ (the README shows the exact
    form the service writes)."""
    return json.loads(text, parse_float=lambda number: f"<number {number}>")


# Values that differ on every run, each checked for its form, then replaced by a marker.
VOLATILE: dict[str, Callable[[str], object]] = {
    "transactionNumber": uuid.UUID,
    "createdAt": datetime.fromisoformat,
    "endCursor": str,
    "startCursor": str,
    "cursor": str,
}


def stable(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE:
                VOLATILE[key](item)
                out[key] = f"<{key}>"
            else:
                out[key] = stable(item)
        return out
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


async def test_readme_examples_give_the_documented_answers(api: Api) -> None:
    cases = examples()
    assert len(cases) >= 9  # every mutation, both queries, an error, the curl examples
    assert {case.path for case in cases} >= {"/graphql", *REST_PATHS}
    for case in cases:
        response = await api.http.post(case.path, content=case.body, headers=case.headers)
        answer, expected = parse(response.text), parse(case.expected)
        # REST errors come with a 4xx status, everything else with 200
        rest_error = case.path in REST_PATHS and "code" in expected
        assert (400 <= response.status_code < 500) if rest_error else response.status_code == 200
        assert stable(answer) == stable(expected), case.body


def test_readme_has_the_two_quick_start_commands_and_ci_runs_the_second() -> None:
    commands = [text.strip() for kind, text in blocks() if kind == "sh"]
    assert commands[0] == "pip install -e . && billing serve"
    test_command = commands[1]
    assert test_command.startswith("pip install -e '.[test]' && ")
    assert test_command.endswith("pytest")
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
