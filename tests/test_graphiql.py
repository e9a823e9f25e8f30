"""GraphiQL: the page, its files (served here, or from a CDN pinned by hash), and a real browser.

GraphiQL's files are installed into the package by ``npm ci --prefix web/graphiql``; the
``graphiql_assets`` fixture runs it when they are missing. The browser test drives Debian's
Chromium through Playwright against a real server on 127.0.0.1 and refuses every request that
leaves that server, so it also proves the page works without internet access.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Route, expect, sync_playwright
from pydantic import ValidationError
from starlette.applications import Starlette

import billing.ide
from billing.app import create_app
from billing.config import Settings
from billing.ide import (
    PACKAGED_ASSETS,
    GraphiQLAssetsError,
    example_document,
    example_variables,
    manifest,
    read_vendor_files,
    sri,
)
from support.api import Api, api_for, custom_api
from support.live_server import live_server

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web" / "graphiql"
CDN = "https://cdn.jsdelivr.net/npm"
PAGE = {"Accept": "text/html"}


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="session")
def graphiql_assets() -> Path:
    """GraphiQL's files installed in the package: ``npm ci --prefix web/graphiql`` if missing."""
    if isinstance(read_vendor_files(PACKAGED_ASSETS, manifest().files), dict):
        return PACKAGED_ASSETS
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(
            "npm is not installed: GraphiQL's files cannot be installed (apt-get install npm)"
        )
    subprocess.run(
        [npm, "ci", "--prefix", str(WEB), "--no-audit", "--no-fund", "--loglevel=error"],
        check=True,
        timeout=600,
    )
    found = read_vendor_files(PACKAGED_ASSETS, manifest().files)
    assert isinstance(found, dict), found
    return PACKAGED_ASSETS


class Tags(HTMLParser):
    """The page's <script src> and <link rel=stylesheet> tags, and its JSON config block."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.stylesheets: list[dict[str, str | None]] = []
        self.config = ""
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and "src" in found:
            self.scripts.append(found)
        elif tag == "script" and found.get("type") == "application/json":
            self._in_config = True
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(found)

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config += data


def page_tags(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def csp(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: sources}."""
    directives = [d.split() for d in response.headers["content-security-policy"].split(";")]
    return {d[0]: d[1:] for d in directives if d}


async def get_page(app: Starlette) -> httpx.Response:
    async with api_for(app, None) as anonymous:
        response = await anonymous.http.get("/graphql", headers=PAGE)
    assert response.status_code == 200, response.text
    return response


# ---------------------------------------------------------------- the page without a browser


async def test_installed_files_are_served_here_with_their_hashes(
    settings: Settings, graphiql_assets: Path
) -> None:
    # given: the service with GraphiQL's files installed in the package (the default, "auto")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # when: the page is fetched without a token
        page = await get_page(app)
        tags = page_tags(page.text)
        # then: every script and stylesheet comes from this server, with an integrity hash
        assets = tags.scripts + tags.stylesheets
        urls = [str(tag.get("src") or tag.get("href")) for tag in assets]
        assert len(urls) == 6, urls  # React, ReactDOM, GraphiQL, its CSS, our script and CSS
        assert all(url.startswith("/graphiql/static/") for url in urls), urls
        assert CDN not in page.text
        recorded = {f"/graphiql/static/vendor/{f.path}": f.integrity for f in manifest().files}
        assert recorded.keys() <= set(urls)
        # and each file is served with exactly the bytes its hash names, typed and not sniffed
        async with api_for(app, None) as anonymous:
            for tag, url in zip(assets, urls, strict=True):
                response = await anonymous.http.get(url)
                assert response.status_code == 200, url
                assert tag["integrity"] == sri(response.content), url
                assert recorded.get(url.split("?")[0], tag["integrity"]) == tag["integrity"]
                kind = "text/css" if ".css" in url else "text/javascript"
                assert response.headers["content-type"].startswith(kind), url
                assert response.headers["x-content-type-options"] == "nosniff"
                assert response.headers["content-encoding"] == "gzip", url  # httpx asks for it
            # and to a client that does not take gzip, the same bytes go uncompressed
            plain = await anonymous.http.get(urls[0], headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in plain.headers
            assert sri(plain.content) == assets[0]["integrity"]
            # and a name that is not one of them is 404, not a file from elsewhere on disk
            for bad in ("/graphiql/static/%2e%2e/__init__.py", "/graphiql/static/vendor/x.js"):
                assert (await anonymous.http.get(bad)).status_code == 404, bad
    # and the policy allows scripts and styles from this server only
    policy = csp(page)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["style-src"][0] == "'self'"
    assert not [s for s in policy["style-src"] if s.startswith(("http", "'unsafe"))]
    assert policy["frame-ancestors"] == ["'none'"]


async def test_without_installed_files_the_page_uses_the_cdn_with_integrity(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a package without GraphiQL's files ("auto" then falls back to the CDN), and a
    # service told to use the CDN ("cdn")
    monkeypatch.setattr(billing.ide, "PACKAGED_ASSETS", tmp_path / "not-installed")
    for source in ("auto", "cdn"):
        app = create_app(settings.model_copy(update={"graphiql_assets": source}))
        async with app.router.lifespan_context(app):
            # when: the page is fetched
            page = await get_page(app)
            async with api_for(app, None) as anonymous:
                vendor_url = f"/graphiql/static/vendor/{manifest().files[0].path}"
                not_served = await anonymous.http.get(vendor_url)
        tags = page_tags(page.text)
        # then: GraphiQL's files come from the CDN, each pinned by the hash the manifest
        # recorded from the npm package, and loaded without credentials
        remote = [
            t for t in tags.scripts + tags.stylesheets if "//" in str(t.get("src") or t.get("href"))
        ]
        expected = {f"{CDN}/{f.path}": f.integrity for f in manifest().files}
        assert {str(t.get("src") or t.get("href")): t["integrity"] for t in remote} == expected
        assert all(t["crossorigin"] == "anonymous" for t in remote)
        # and our own script still comes from here; the policy adds exactly the CDN's origin
        assert any(
            str(t["src"]).startswith("/graphiql/static/billing-graphiql.js") for t in tags.scripts
        )
        policy = csp(page)
        assert policy["script-src"] == ["'self'", "https://cdn.jsdelivr.net"], source
        assert policy["style-src"][:2] == ["'self'", "https://cdn.jsdelivr.net"], source
        assert policy["connect-src"] == ["'self'"]
        # and the server does not pretend to hold the files
        assert not_served.status_code == 404


def test_the_recorded_hashes_are_those_of_the_npm_packages(graphiql_assets: Path) -> None:
    # given: the committed manifest and the lock file it was made from
    lock = json.loads((WEB / "package-lock.json").read_text(encoding="utf-8"))
    for item in manifest().files:
        # then: each file is from the locked version, and its hash is that of the npm file
        # (which is what the CDN serves), not of some other copy
        assert lock["packages"][f"node_modules/{item.package}"]["version"] == item.version
        npm_file = WEB / "node_modules" / item.package / item.file
        assert sri(npm_file.read_bytes()) == item.integrity, item
        assert sri((graphiql_assets / item.path).read_bytes()) == item.integrity, item


async def test_a_named_assets_directory_must_hold_the_right_files(
    settings: Settings, graphiql_assets: Path, tmp_path: Path
) -> None:
    # given: a copy of the installed files with one of them changed
    copy = tmp_path / "assets"
    shutil.copytree(graphiql_assets, copy)
    item = manifest().files[-1]
    changed = copy / item.path
    changed.write_bytes(changed.read_bytes() + b"\n/* changed */\n")
    # when/then: the service refuses to start with it, naming the file
    with pytest.raises(GraphiQLAssetsError, match=re.escape(str(changed))):
        create_app(settings.model_copy(update={"graphiql_assets": str(copy)}))
    # and a directory that does not exist is a configuration error
    with pytest.raises(ValidationError, match="existing directory"):
        Settings(graphiql_assets=str(tmp_path / "missing"))
    # and once the file is intact again, the page is served from that directory
    shutil.copy2(graphiql_assets / item.path, changed)
    app = create_app(settings.model_copy(update={"graphiql_assets": str(copy)}))
    async with app.router.lifespan_context(app), api_for(app, None) as anonymous:
        page = await get_page(app)
        assert f"/graphiql/static/vendor/{item.path}" in page.text
        served = await anonymous.http.get(f"/graphiql/static/vendor/{item.path}")
    assert served.content == changed.read_bytes()


async def test_page_headers_and_example(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        page = await get_page(app)
    # then: the page cannot be framed, sniffed or leak its address, and carries the example
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    config = json.loads(page_tags(page.text).config)
    assert config == {"query": example_document(), "variables": example_variables()}
    assert "</script" not in page_tags(page.text).config.lower()


def operations() -> list[str]:
    document = parse(example_document())
    return [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name
    ]


async def test_the_example_operations_run_in_the_documented_order(api: Api) -> None:
    # given: the example document and variables as the page offers them
    assert operations() == [
        "CreateClient",
        "Resupply",
        "Transfer",
        "Client",
        "Wallet",
        "HoldTransfer",
        "CaptureHold",
        "Refund",
        "WalletEvents",  # a subscription: over a WebSocket (see the browser test)
    ]
    variables: dict[str, Any] = json.loads(example_variables())

    async def run(name: str, **changes: str | None) -> dict[str, Any]:
        body = {
            "query": example_document(),
            "operationName": name,
            "variables": {**variables, **changes},
        }
        response = await api.http.post("/graphql", json=body)
        assert response.status_code == 200
        assert "errors" not in response.json(), response.json()
        data: dict[str, Any] = response.json()["data"]
        return data

    # when: each is run on an empty database as the document's comment says
    first = (await run("CreateClient"))["createClient"]
    second = (await run("CreateClient", login="shop"))["createClient"]
    resupply = (await run("Resupply"))["resupply"]
    transfer = (await run("Transfer"))["transfer"]
    client = (await run("Client"))["client"]
    wallet = (await run("Wallet"))["wallet"]
    # then: every one succeeds
    assert first["__typename"] == "CreateClientSuccess"
    assert first["client"]["login"] == variables["login"] == "myLogin"
    assert second["wallet"]["id"] == variables["walletToId"]
    assert resupply["__typename"] == "ResupplySuccess"
    assert resupply["walletBalance"] == "500.50"
    assert transfer["__typename"] == "TransferSuccess", transfer
    assert transfer["walletFromBalance"] == "400.50"
    assert client["wallets"] == [{"id": "1", "balance": "400.50"}]
    assert [e["node"]["kind"] for e in wallet["operations"]["edges"]] == [
        "TRANSFER_OUT",
        "RESUPPLY",
    ]
    assert (wallet["balance"], wallet["held"], wallet["available"]) == ("400.50", "0.00", "400.50")

    # when: the hold, its capture and a refund, as the comment says (pasting the capture's
    # transactionNumber into the variables)
    hold = (await run("HoldTransfer"))["holdTransfer"]
    capture = (await run("CaptureHold"))["captureHold"]
    number = capture.get("transactionNumber")
    refund = (await run("Refund", transactionNumber=number))["refund"]
    again = (await run("Refund", transactionNumber=number, refundAmount=None))["refund"]
    after = (await run("Wallet"))["wallet"]
    # then: 50.00 held, 30.00 of it captured and the rest released, 10.00 and then the
    # remaining 20.00 refunded
    assert hold["__typename"] == "HoldTransferSuccess", hold
    assert hold["hold"]["id"] == variables["holdId"]
    assert hold["walletFrom"] == {
        "id": "1",
        "balance": "400.50",
        "held": "50.00",
        "available": "350.50",
    }
    assert capture["__typename"] == "CaptureHoldSuccess", capture
    assert capture["hold"] == {"id": "1", "status": "CAPTURED", "capturedAmount": "30.00"}
    assert capture["walletFrom"] == {
        "id": "1",
        "balance": "370.50",
        "held": "0.00",
        "available": "370.50",
    }
    assert capture["walletTo"] == {"id": "2", "balance": "130.00"}
    assert refund["__typename"] == "RefundSuccess", refund
    assert (refund["amount"], refund["remaining"]) == ("10.00", "20.00")
    assert refund["walletTo"] == {"id": "1", "balance": "380.50", "available": "380.50"}
    assert refund["walletsFrom"] == [{"walletId": "2", "amount": "10.00"}]
    assert (again["amount"], again["remaining"]) == ("20.00", "0.00")
    assert (after["balance"], after["held"], after["available"]) == ("400.50", "0.00", "400.50")
    assert [e["node"]["kind"] for e in after["operations"]["edges"]] == [
        "REFUND_IN",
        "REFUND_IN",
        "CAPTURE_OUT",
        "TRANSFER_OUT",
        "RESUPPLY",
    ]


async def test_without_introspection_no_page_and_no_files(settings: Settings) -> None:
    async with custom_api(settings, introspection=False) as (_, api):
        assert (await api.http.get("/graphql", headers=PAGE)).status_code == 404
        script = await api.http.get("/graphiql/static/billing-graphiql.js")
        assert script.status_code == 404


# ---------------------------------------------------------------- in a real browser


def chromium() -> str | None:
    """Debian's Chromium (CI installs it), or the browser BILLING_TEST_CHROMIUM names."""
    named = os.environ.get("BILLING_TEST_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifacts_dir() -> Path:
    """Where the screenshot goes: $BILLING_TEST_ARTIFACTS, else test-artifacts/ (gitignored)."""
    directory = Path(os.environ.get("BILLING_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browser_path() -> str:
    path = chromium()
    if path is None:
        pytest.skip(
            "no Chromium found for the GraphiQL browser test: apt-get install chromium,"
            " or set BILLING_TEST_CHROMIUM to a Chromium or Chrome binary"
        )
    return path


@pytest.mark.slow
def test_graphiql_runs_create_client_in_a_browser_offline(
    settings: Settings, graphiql_assets: Path, browser_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with live_server(settings) as server, tempfile.TemporaryDirectory() as profile:
        token = server.token()
        origin = server.url.removesuffix("/graphql")
        outside: list[str] = []  # every request that would have left the server
        loaded: list[str] = []

        def only_this_server(route: Route) -> None:
            url = route.request.url
            if url.startswith(origin + "/"):
                loaded.append(url)
                route.continue_()
            else:
                outside.append(url)
                route.abort("blockedbyclient")

        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=browser_path,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )
            page = context.pages[0] if context.pages else context.new_page()
            try:
                context.route("**/*", only_this_server)
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on(
                    "console",
                    lambda msg: errors.append(msg.text) if msg.type == "error" else None,
                )
                # Content-Security-Policy violations, as the page itself sees them
                page.add_init_script(
                    "window.cspViolations = [];"
                    "document.addEventListener('securitypolicyviolation', e =>"
                    " window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
                )

                # when: GraphiQL is opened from a link carrying the token
                page.goto(f"{server.url}#token={token}")
                run = page.locator(".graphiql-execute-button")
                expect(run).to_be_visible(timeout=20_000)
                expect(page.locator(".graphiql-query-editor")).to_contain_text(
                    "mutation CreateClient"
                )
                # then: the token left the address bar for the Headers tab
                assert "#token" not in page.url
                assert token not in page.url
                # when: the run button is pressed and CreateClient picked from its menu
                run.click()
                # (the menu offers every example operation, the hold and refund ones too)
                expect(page.get_by_role("menuitem", name="Refund")).to_be_visible()
                page.get_by_role("menuitem", name="CreateClient").click()
                # then: the result pane shows the new client
                result = page.locator(".result-window")
                expect(result).to_contain_text("CreateClientSuccess", timeout=20_000)
                expect(result).to_contain_text('"login": "myLogin"')
                shot = artifacts_dir() / "graphiql.png"
                page.screenshot(path=str(shot))
                with capsys.disabled():
                    print(f"\nGraphiQL screenshot: {shot}")
                violations = page.evaluate("window.cspViolations")
            except (PlaywrightError, AssertionError) as exc:
                page.screenshot(path=str(artifacts_dir() / "graphiql-failure.png"))
                if outside:
                    needed = f"the page needed files from elsewhere: {outside}"
                    raise AssertionError(needed) from exc
                raise
            finally:
                context.close()

        # and the client is really in the database, created with the token from the link
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
            response = http.post(server.url, json={"query": '{ client(id: "1") { login } }'})
        assert response.json() == {"data": {"client": {"login": "myLogin"}}}
        # and nothing was fetched from elsewhere; GraphiQL's files came from this server
        assert outside == []
        assert any("/graphiql/static/vendor/graphiql@" in url for url in loaded), loaded
        assert violations == []
        assert errors == []


@pytest.mark.slow
def test_graphiql_streams_wallet_events_in_a_browser_offline(
    settings: Settings, graphiql_assets: Path, browser_path: str
) -> None:
    with live_server(settings.model_copy(update={"events_poll_interval": 0.2})) as server:
        token = server.token()
        origin = server.url.removesuffix("/graphql")
        outside: list[str] = []
        sockets: list[str] = []

        def call(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
                response = http.post(server.url, json={"query": query, "variables": variables})
            body: dict[str, Any] = response.json()
            assert "errors" not in body, body
            return body

        # given: wallets 1 and 2, the first with money (its first event)
        create = (
            "mutation($l: String!) { createClient(input: {login: $l, name: $l}) { __typename } }"
        )
        for login in ("streamer", "other"):
            call(create, {"l": login})
        call('mutation { resupply(input: {walletId: "1", amount: "20.00"}) { __typename } }', {})

        def only_this_server(route: Route) -> None:
            if route.request.url.startswith(origin + "/"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort("blockedbyclient")

        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=browser_path,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )
            page = context.pages[0] if context.pages else context.new_page()
            try:
                context.route("**/*", only_this_server)
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("websocket", lambda ws: sockets.append(ws.url))
                page.add_init_script(
                    "window.cspViolations = [];"
                    "document.addEventListener('securitypolicyviolation', e =>"
                    " window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
                )
                # when: GraphiQL opens from the link with the token, and WalletEvents is run
                page.goto(f"{server.url}#token={token}")
                run = page.locator(".graphiql-execute-button")
                expect(run).to_be_visible(timeout=20_000)
                run.click()
                page.get_by_role("menuitem", name="WalletEvents").click()
                # then: the wallet's first event shows
                result = page.locator(".result-window")
                expect(result).to_contain_text('"kind": "RESUPPLY"', timeout=20_000)
                # when: money moves over HTTP while the subscription runs
                call(
                    'mutation { transfer(input: {walletFromId: "1", walletToId: "2",'
                    ' amount: "5.00"}) { __typename } }',
                    {},
                )
                # then: its event arrives in the page
                expect(result).to_contain_text('"kind": "TRANSFER"', timeout=20_000)
                expect(result).to_contain_text('"balance": "15.00"')
                expect(result).to_contain_text('"sequence": 2')
                page.screenshot(path=str(artifacts_dir() / "graphiql-subscription.png"))
                violations = page.evaluate("window.cspViolations")
            except (PlaywrightError, AssertionError):
                page.screenshot(path=str(artifacts_dir() / "graphiql-subscription-failure.png"))
                raise
            finally:
                context.close()
    # and the events came over a WebSocket to this server, nothing from elsewhere
    assert sockets == [server.url.replace("http://", "ws://")]
    assert outside == []
    assert violations == []
    assert errors == []
