"""The documentation's examples run as documented, its links lead somewhere, its configuration
table matches the settings, and the README's two commands are the ones CI uses.

The documentation is README.md and every page in docs/. Each page's examples (a GraphQL document
or a curl command, followed by a json block with the answer) run in the order written, against a
fresh database: later examples rely on what earlier ones on the same page created.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import graphql
import pytest
from pydantic_core import PydanticUndefined

from billing.config import Settings
from billing.graphql.schema import schema
from support.api import Api

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

BASE = "http://127.0.0.1:8000/"
REST_PATHS = {"/clients", "/resupplies", "/transfers"}
# Query fields no example can show: a transaction's number is a fresh UUID on every run.
UNSHOWABLE = {"transaction"}


def name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string's first word (its language) and its text."""

    kind: str
    text: str
    line: int


FENCE = re.compile(r"(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)")


def closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a code block opened with ``fence``."""
    stripped = line.strip()
    return stripped.startswith(fence) and stripped == fence[0] * len(stripped)


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order (indented ones in lists too)."""
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.fullmatch(lines[index])
        index += 1
        if opening is None:
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        start, body = index, []
        while index < len(lines):
            line = lines[index]
            index += 1
            if closes(line, fence):
                break
            body.append(line[indent:] if not line[:indent].strip() else line.lstrip())
        kind = opening["info"].strip().split(" ")[0]
        found.append(Block(kind, "\n".join(body) + "\n", start))
    return found


@dataclass(frozen=True)
class Example:
    where: str  # page:line, for failure messages
    path: str
    body: bytes
    headers: dict[str, str]
    expected: str


def curl(where: str, text: str, expected: str) -> Example:
    """A curl command: its URL, its -H headers (but the token) and its -d body, as written."""
    words = shlex.split(text.replace("\\\n", " "))
    url = next(w for w in words if w.startswith("http"))
    assert url.startswith(BASE), f"{where}: {url}"
    headers = {}
    for flag, value in itertools.pairwise(words):
        if flag == "-H" and not value.startswith("Authorization:"):
            header, _, given = value.partition(":")
            headers[header] = given.strip()
    body = words[words.index("-d") + 1].encode()
    return Example(where, "/" + url.removeprefix(BASE), body, headers, expected)


def is_request(block: Block) -> bool:
    curl_command = block.kind == "sh" and block.text.lstrip().startswith("curl")
    return block.kind == "graphql" or curl_command


def examples(page: Path) -> list[Example]:
    """Each request block (GraphQL or curl) of a page with the json block that follows it."""
    found = []
    items = blocks(page)
    for block, answer in itertools.zip_longest(items, items[1:]):
        if not is_request(block):
            continue
        where = f"{name(page)}:{block.line}"
        assert answer is not None, f"{where}: no json answer follows"
        assert answer.kind == "json", f"{where}: no json answer follows"
        if block.kind == "graphql":
            body = json.dumps({"query": block.text}).encode()
            json_header = {"Content-Type": "application/json"}
            found.append(Example(where, "/graphql", body, json_header, answer.text))
        else:
            found.append(curl(where, block.text, answer.text))
    return found


PAGES_WITH_EXAMPLES = [page for page in PAGES if any(map(is_request, blocks(page)))]


def parse(text: str) -> Any:
    """JSON with numbers kept as written: 500.50 and 500.5 differ (the docs show the exact
    form the service writes)."""
    return json.loads(text, parse_float=lambda number: f"<number {number}>")


def webhook_secret(value: str) -> None:
    """A webhook endpoint's secret: ``whsec_`` and the base64 of 32 bytes."""
    if not re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", value):
        raise ValueError(f"not a webhook secret: {value!r}")


# Values that differ on every run, each checked for its form, then replaced by a marker.
VOLATILE: dict[str, Callable[[str], object]] = {
    "secret": webhook_secret,
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


def numbers(expected: Any, answer: Any) -> dict[str, str]:
    """Each transaction number an answer shows, with the number the service really gave."""
    if isinstance(expected, dict) and isinstance(answer, dict):
        found: dict[str, str] = {}
        for key, item in expected.items():
            if key == "transactionNumber" and isinstance(item, str):
                found[item] = str(answer.get(key))
            else:
                found |= numbers(item, answer.get(key))
        return found
    if isinstance(expected, list) and isinstance(answer, list):
        pairs = zip(expected, answer, strict=False)
        return {shown: real for e, a in pairs for shown, real in numbers(e, a).items()}
    return {}


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=name)
async def test_examples_give_the_documented_answers(api: Api, page: Path) -> None:
    # A transaction number shown in an answer stands, in the page's later requests, for the
    # number that answer really gave (a refund names the transaction it refunds).
    given: dict[str, str] = {}
    for case in examples(page):
        body = case.body
        for shown, real in given.items():
            body = body.replace(shown.encode(), real.encode())
        response = await api.http.post(case.path, content=body, headers=case.headers)
        answer, expected = parse(response.text), parse(case.expected)
        given |= numbers(expected, answer)
        # REST errors come with a 4xx status, everything else with 200
        rest_error = case.path in REST_PATHS and "code" in expected
        status = response.status_code
        assert (400 <= status < 500) if rest_error else status == 200, f"{case.where}: {status}"
        assert stable(answer) == stable(expected), case.where


def root_fields(example: Example) -> set[tuple[str, str]]:
    """(operation type, root field) of each GraphQL operation the example sends."""
    if example.path != "/graphql":
        return set()
    document = graphql.parse(json.loads(example.body)["query"])
    return {
        (definition.operation.value, selection.name.value)
        for definition in document.definitions
        if isinstance(definition, graphql.OperationDefinitionNode)
        for selection in definition.selection_set.selections
        if isinstance(selection, graphql.FieldNode)
    }


def test_the_examples_cover_every_operation_and_the_rest_adapter() -> None:
    cases = [case for page in PAGES for case in examples(page)]
    api = graphql.build_schema(schema.as_str())
    assert api.mutation_type is not None
    assert api.query_type is not None
    operations = {("mutation", field) for field in api.mutation_type.fields} | {
        ("query", field) for field in api.query_type.fields if field not in UNSHOWABLE
    }
    shown = {field for case in cases for field in root_fields(case)}
    assert operations <= shown, operations - shown
    assert {case.path for case in cases} >= {"/graphql", *REST_PATHS}
    assert examples(README), "the README keeps a short example"


# --- links ----------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
CODE_SPAN = re.compile(r"(`+).*?\1", re.DOTALL)
EXTERNAL = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def outside_code_blocks(page: Path) -> list[str]:
    """The lines of a page that are not in a fenced code block."""
    kept, fence = [], None
    for line in page.read_text(encoding="utf-8").splitlines():
        opening = FENCE.fullmatch(line)
        if fence is None and opening:
            fence = opening["fence"]
        elif fence is not None and closes(line, fence):
            fence = None
        elif fence is None:
            kept.append(line)
    return kept


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LMN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (a repeated heading gets -1, -2, ...)."""
    found: set[str] = set()
    for line in outside_code_blocks(page):
        heading = re.fullmatch(r"#{1,6}\s+(.*?)\s*#*\s*", line)
        if heading is None:
            continue
        anchor = base = slug(heading[1])
        for n in itertools.count(1):
            if anchor not in found:
                break
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def links(page: Path) -> list[str]:
    """The link and image targets of a page, except those in code."""
    text = CODE_SPAN.sub("", "\n".join(outside_code_blocks(page)))
    return LINK.findall(text) + REFERENCE.findall(text)


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The relative links of ``page`` that lead to no file inside ``root`` or to no anchor."""
    broken = []
    for target in links(page):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        missing = not linked.exists() or not linked.is_relative_to(root)
        if missing or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_relative_links_lead_to_existing_files_and_anchors(page: Path) -> None:
    assert links(page), "every page links somewhere"
    assert broken_links(page) == []


def test_the_readme_links_every_page_of_the_docs() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README)}
    assert set(PAGES[1:]) <= linked, set(PAGES[1:]) - linked


def test_the_link_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Some `code` here\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#some-code-here) [gone](missing.md) [no anchor](other.md#nope)"
        " [self](#title) `[in code](missing.md)`\n\n# Title\n\n"
        "```\n[in a block](missing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == ["missing.md", "other.md#nope"]


# --- the README -----------------------------------------------------------------------------


def test_the_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) < 300


def test_readme_has_the_two_quick_start_commands_and_ci_runs_the_second() -> None:
    commands = [block.text.strip() for block in blocks(README) if block.kind == "sh"]
    assert commands[0] == "pip install -e . && billing serve"
    test_command = commands[1]
    assert test_command.startswith("pip install -e '.[test]' && ")
    assert test_command.endswith("pytest")
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def configuration_table() -> dict[str, str]:
    """Variable -> default, as the README's configuration table writes them."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
    rows = re.findall(r"^\| `(BILLING_[A-Z_]+)` \| ([^|]+) \|", section, re.MULTILINE)
    return {variable: default.strip() for variable, default in rows}


def written(value: object) -> str:
    """A default as the table writes it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def test_the_configuration_table_lists_every_setting_with_its_default() -> None:
    table = configuration_table()
    fields = Settings.model_fields
    assert set(table) == {f"BILLING_{field.upper()}" for field in fields}
    for field, info in fields.items():
        if info.default is PydanticUndefined:  # computed (the data directory)
            continue
        shown = table[f"BILLING_{field.upper()}"]
        assert shown.partition(":")[0] == written(info.default), field
