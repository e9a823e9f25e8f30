"""The README's examples run as documented, and its two commands are the ones CI uses."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import Api

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(README)]


def examples() -> list[tuple[dict[str, Any], Any]]:
    """(request body, expected response) for each request block followed by a json block."""
    found = []
    items = blocks()
    for (kind, text), (next_kind, expected) in itertools.pairwise(items):
        if next_kind != "json":
            continue
        if kind == "graphql":
            body: dict[str, Any] = {"query": text}
        elif kind == "sh" and text.lstrip().startswith("curl"):
            words = shlex.split(text.replace("\\\n", " "))
            assert "http://127.0.0.1:8000/graphql" in words
            body = json.loads(words[words.index("-d") + 1])
        else:
            continue
        found.append((body, json.loads(expected)))
    return found


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
    for body, expected in cases:
        response = await api.http.post("/graphql", json=body)
        assert response.status_code == 200
        assert stable(response.json()) == stable(expected), body


def test_readme_has_the_two_quick_start_commands_and_ci_runs_the_second() -> None:
    commands = [text.strip() for kind, text in blocks() if kind == "sh"]
    assert commands[0] == "pip install -e . && billing serve"
    test_command = commands[1]
    assert test_command.startswith("pip install -e '.[test]' && ")
    assert test_command.endswith("pytest")
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
