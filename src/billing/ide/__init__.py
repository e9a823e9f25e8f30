"""The GraphiQL page: an example document, GraphiQL's files and strict response headers.

GraphiQL's browser files (React, ReactDOM, GraphiQL's UMD build and stylesheet; listed with
their Subresource Integrity hashes in ``vendor.json``) are served by this app under
``/graphiql/static/`` when they are installed, so the page works without internet access:
``npm ci --prefix web/graphiql`` copies them into ``static/vendor`` of this package, or
``BILLING_GRAPHIQL_ASSETS`` names a directory holding them. Otherwise the page loads the very
same files from a CDN, pinned by their hashes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from billing.http.responses import json_error

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PACKAGED_ASSETS = HERE / "static" / "vendor"
STATIC_PREFIX = "/graphiql/static"
CONFIG_ELEMENT_ID = "billing-graphiql-config"
# Our own script and stylesheet, always served here (the page has no inline script or style).
OWN_FILES = ("billing-graphiql.js", "billing-graphiql.css")
# The one inline style GraphiQL adds: the <style> its menus and dialogs insert to lock scrolling
# (react-remove-scroll-bar), as written for a page without a scrollbar (billing-graphiql.css).
# The browser test fails on any Content-Security-Policy violation, so a change shows up there.
SCROLL_LOCK_STYLE = "'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='"


class GraphiQLAssetsError(RuntimeError):
    """A directory given in BILLING_GRAPHIQL_ASSETS lacks a file or holds a different one."""


def sri(content: bytes) -> str:
    """The Subresource Integrity value of ``content`` (sha384, as the build script writes)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


@dataclass(frozen=True)
class VendorFile:
    package: str
    version: str
    file: str
    integrity: str

    @property
    def path(self) -> str:
        """``<package>@<version>/<file>``: the same path here and on the CDN."""
        return f"{self.package}@{self.version}/{self.file}"


@dataclass(frozen=True)
class Manifest:
    cdn: str  # base URL; a file is at f"{cdn}/{path}"
    files: tuple[VendorFile, ...]


def manifest() -> Manifest:
    """GraphiQL's files as recorded by web/graphiql/build.mjs."""
    data = json.loads((HERE / "vendor.json").read_text(encoding="utf-8"))
    files = tuple(
        VendorFile(a["package"], a["version"], a["file"], a["integrity"]) for a in data["assets"]
    )
    return Manifest(cdn=data["cdn"], files=files)


def example_document() -> str:
    return (HERE / "example.graphql").read_text(encoding="utf-8")


def example_variables() -> str:
    return (HERE / "example-variables.json").read_text(encoding="utf-8")


def read_vendor_files(directory: Path, files: tuple[VendorFile, ...]) -> dict[str, bytes] | str:
    """The files' contents by path, or why ``directory`` cannot serve them."""
    found: dict[str, bytes] = {}
    for item in files:
        location = directory / item.path
        try:
            content = location.read_bytes()
        except OSError:
            return f"{location} is missing"
        if sri(content) != item.integrity:
            return f"{location} is not {item.file} of {item.package} {item.version}"
        found[item.path] = content
    return found


@dataclass
class StaticFile:
    content: bytes
    media_type: str
    cache_control: str
    _gzipped: bytes | None = field(default=None, repr=False)

    @property
    def gzipped(self) -> bytes:
        """Compressed on first use, so that building an app stays cheap."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.content, compresslevel=6, mtime=0)
        return self._gzipped


def _media_type(name: str) -> str:
    kind = "text/css" if name.endswith(".css") else "text/javascript"
    return f"{kind}; charset=utf-8"


STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass
class GraphiQLPage:
    """The page and the files it loads from this server; ``local``: GraphiQL's too."""

    local: bool
    cdn: str
    files: dict[str, StaticFile]  # by path below STATIC_PREFIX
    scripts: list[tuple[str, str]]  # (URL, integrity) in load order
    stylesheets: list[tuple[str, str]]

    @cached_property
    def html(self) -> bytes:
        config = json.dumps(
            {"query": example_document(), "variables": example_variables()}, ensure_ascii=False
        )
        # A JSON data block is not executed; escaping "<" keeps "</script>" out of it.
        config = config.replace("<", "\\u003c")
        crossorigin = "" if self.local else ' crossorigin="anonymous"'

        def attrs(url: str, integrity: str) -> str:
            own = url.startswith(STATIC_PREFIX)
            extra = "" if own else crossorigin
            return f'"{html.escape(url)}" integrity="{html.escape(integrity)}"{extra}'

        links = "\n".join(
            f'    <link rel="stylesheet" href={attrs(url, sri_)}>' for url, sri_ in self.stylesheets
        )
        scripts = "\n".join(
            f"    <script src={attrs(url, sri_)}></script>" for url, sri_ in self.scripts
        )
        page = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Billing API · GraphiQL</title>
    <link rel="icon" href="data:,">
{links}
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script type="application/json" id="{CONFIG_ELEMENT_ID}">{config}</script>
{scripts}
  </body>
</html>
"""
        return page.encode()

    @cached_property
    def headers(self) -> dict[str, str]:
        remote = "" if self.local else f" {origin(self.cdn)}"
        policy = "; ".join(
            (
                "default-src 'none'",
                f"script-src 'self'{remote}",
                f"style-src 'self'{remote} {SCROLL_LOCK_STYLE}",
                "font-src 'self' data:",
                "img-src 'self' data:",
                "connect-src 'self'",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            )
        )
        return {
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Cache-Control": "no-cache",
        }

    async def page(self, request: Request) -> Response:
        return Response(self.html, media_type="text/html; charset=utf-8", headers=self.headers)

    async def static(self, request: Request) -> Response:
        item = self.files.get(request.path_params["path"])
        if item is None:
            return json_error(404, "NOT_FOUND", "No such file.")
        headers = {**STATIC_HEADERS, "Cache-Control": item.cache_control, "Vary": "Accept-Encoding"}
        body = item.content
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = item.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=item.media_type, headers=headers)

    def routes(self) -> list[Route]:
        return [Route(STATIC_PREFIX + "/{path:path}", self.static, methods=["GET"])]


def origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def vendor_contents(assets: str, recorded: Manifest) -> dict[str, bytes] | None:
    """GraphiQL's files to serve here, by path, or None to load them from the CDN."""
    if assets == "cdn":
        return None
    if assets == "auto":
        found = read_vendor_files(PACKAGED_ASSETS, recorded.files)
        if isinstance(found, str):
            if PACKAGED_ASSETS.exists():  # installed once, but not (or no longer) these files
                log.warning("GraphiQL loads its files from %s: %s", recorded.cdn, found)
            return None
        return found
    found = read_vendor_files(Path(assets), recorded.files)
    if isinstance(found, str):
        raise GraphiQLAssetsError(f"BILLING_GRAPHIQL_ASSETS: {found}")
    return found


def graphiql_page(assets: str) -> GraphiQLPage:
    """The page, with GraphiQL's files from ``assets``: "auto", "cdn" or a directory.

    "auto" serves the copy installed in this package when it is complete and intact, and
    falls back to the CDN otherwise. A directory must hold every file, unchanged.
    """
    recorded = manifest()
    vendor = vendor_contents(assets, recorded)
    files: dict[str, StaticFile] = {}
    own_urls: list[tuple[str, str]] = []
    for name in OWN_FILES:
        content = (HERE / "static" / name).read_bytes()
        files[name] = StaticFile(content, _media_type(name), "no-cache")
        version = hashlib.sha256(content).hexdigest()[:12]
        own_urls.append((f"{STATIC_PREFIX}/{name}?v={version}", sri(content)))

    vendor_urls: list[tuple[str, str]] = []
    for item in recorded.files:
        if vendor is not None:
            immutable = "public, max-age=31536000, immutable"
            files[f"vendor/{item.path}"] = StaticFile(
                vendor[item.path], _media_type(item.file), immutable
            )
            vendor_urls.append((f"{STATIC_PREFIX}/vendor/{item.path}", item.integrity))
        else:
            vendor_urls.append((f"{recorded.cdn}/{item.path}", item.integrity))

    def by_kind(urls: list[tuple[str, str]], suffix: str) -> list[tuple[str, str]]:
        return [(url, integrity) for url, integrity in urls if url.split("?")[0].endswith(suffix)]

    return GraphiQLPage(
        local=vendor is not None,
        cdn=recorded.cdn,
        files=files,
        # GraphiQL's files first (React before GraphiQL, as listed), then ours, which uses them.
        scripts=by_kind(vendor_urls, ".js") + by_kind(own_urls, ".js"),
        stylesheets=by_kind(vendor_urls, ".css") + by_kind(own_urls, ".css"),
    )
