"""Fixtures shared by the whole suite: people, API clients, and the real services.

Under CI=true a test that needs PostgreSQL or Redis fails when they are missing; on a
developer's machine without them it is skipped with the reason.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from linkflow.accounts.models import Role, User, Workspace
from linkflow.accounts.services import membership_add, workspace_ensure_personal
from linkflow.accounts.web import SESSION_KEY

from .factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


@pytest.fixture
def billing_on(settings: Any) -> Iterator[None]:
    """Plan limits apply (LINKFLOW_BILLING=on) in this test process; the suite's default is
    the shipped one, billing off. Plans are cached per process, so the cache is cleared."""
    from billing.selectors import plan_cache_clear

    settings.LINKFLOW_BILLING = True
    plan_cache_clear()
    yield
    plan_cache_clear()


def require_services() -> None:
    """Fail (in CI) or skip (elsewhere) unless real PostgreSQL and Redis are configured."""
    problems = []
    if connection.vendor != "postgresql":
        problems.append("DATABASE_URL does not point at PostgreSQL")
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url or not _reachable(redis_url, 6379):
        problems.append("REDIS_URL is unset or Redis is unreachable")
    if problems:
        message = "; ".join(problems)
        if IN_CI:
            pytest.fail(f"needs the real services: {message}")
        pytest.skip(f"needs the real services: {message}")


# The local servers the database and queue nodes are tested against (not LinkFlow's own).
SERVERS = {"mariadb": 3306, "rabbitmq": 5672, "mosquitto": 1883, "nats": 4222}


def require_server(name: str) -> int:
    """The port of the local ``name`` server (see SERVERS); fail (in CI) or skip (elsewhere)
    when nothing answers there. .ci/run starts them."""
    port = SERVERS[name]
    if not _reachable(f"tcp://127.0.0.1:{port}", port):
        message = f"needs the local {name} server on 127.0.0.1:{port}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return port


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def teammate(owner: User) -> User:
    """An editor in the owner's personal workspace."""
    user = UserFactory.create()
    membership_add(workspace=workspace_ensure_personal(user=owner), user=user, role=Role.EDITOR)
    return user


@pytest.fixture
def viewer(owner: User) -> User:
    user = UserFactory.create()
    membership_add(workspace=workspace_ensure_personal(user=owner), user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def outsider(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An API client that sends the user's JWT access token."""

    def make(user: User) -> APIClient:
        client = APIClient()
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


def signed_in_client(
    user: User, workspace: Workspace | None = None, *, raise_request_exception: bool = True
) -> Client:
    """A browser (Django's test client) signed in as ``user`` and working in ``workspace``
    (default: whichever the session picks, their own). ``raise_request_exception=False``
    lets a test see a 500 as a response instead of the exception."""
    client = Client(raise_request_exception=raise_request_exception)
    client.force_login(user)
    if workspace is not None:
        session = client.session
        session[SESSION_KEY] = str(workspace.pk)
        session.save()
    return client


@pytest.fixture
def api(owner: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(owner)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """A URL for the database the tests are using (the test database, not the main one)."""
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db["PASSWORD"]:
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def spawn_worker(
    *,
    name: str,
    concurrency: int = 4,
    beat: bool = True,
    pool: str = "threads",
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], Any]:
    """Start one real `celery worker` on Redis and the test database, on this run's queue;
    returns the process and its open log file (var/<name>.log). ``pool`` "prefork" gives
    the production pool (child processes, time limits)."""
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "DATABASE_URL": database_url(),
        "LINKFLOW_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "LINKFLOW_DB_POOL": "false",
        "LINKFLOW_HTTP_ALLOW_PRIVATE": "true",
        **(env or {}),
    }
    environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = open(ROOT / "var" / f"{name}.log", "wb")  # noqa: SIM115
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "linkflow",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        f"{name}@%h",
    ]
    if beat:
        command.append("-B")
    proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def stop_process(proc: subprocess.Popen[bytes], log: Any = None) -> None:
    """Terminate a process the tests started (kill it after 20 s) and close its log."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if log is not None:
        log.close()


@pytest.fixture
def start_worker(transactional_db: None) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start real `celery worker` processes on Redis and the test database, on this run's
    queue; each is stopped (or found killed) at the end of the test.

    ``beat=True`` also runs the beat schedule inside the worker (-B), which wakes parked
    executions; ``pool="prefork"`` runs child processes; ``env`` adds settings such as a
    short LINKFLOW_LEASE_SECONDS.
    """
    require_services()
    started: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(
        *, concurrency: int = 4, beat: bool = True, pool: str = "threads", **env: str
    ) -> subprocess.Popen[bytes]:
        name = f"test-{os.getpid()}-{len(started)}"
        proc, log = spawn_worker(name=name, concurrency=concurrency, beat=beat, pool=pool, env=env)
        started.append((proc, log))
        return proc

    yield start
    for proc, log in started:
        stop_process(proc, log)


@pytest.fixture
def celery_worker(start_worker: Callable[..., subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """One real worker (4 threads) with the beat schedule running inside it."""
    return start_worker()


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy; fail the test with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session", autouse=True)
def _drop_test_queue() -> Iterator[None]:
    """Remove this run's queue from Redis so unconsumed test messages do not pile up."""
    yield
    redis_url = os.environ.get("REDIS_URL")
    if redis_url and _reachable(redis_url, 6379):
        import redis

        redis.Redis.from_url(redis_url).delete(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture(autouse=True)
def _fresh_plan_cache() -> None:
    """Plans are cached per process for a few seconds; each test starts from the database."""
    from billing.selectors import plan_cache_clear

    plan_cache_clear()
