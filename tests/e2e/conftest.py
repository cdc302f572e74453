"""Browser tests: Debian's Chromium driven by Playwright against a live LinkFlow.

One web role (uvicorn serving linkflow.asgi: pages and the WebSocket feed) and one worker
run while the browser tests run, on the test database; each test makes its own data inside
``transactional_db`` (so the server sees it) and signs its users in by session cookie.
"""

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.test import Client

from linkflow.accounts.models import User

from ..conftest import (
    IN_CI,
    ROOT,
    database_url,
    free_port,
    require_services,
    spawn_worker,
    stop_process,
)

CHROMIUM = os.environ.get("LINKFLOW_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "e2e"


def set_password(user: User, password: str) -> None:
    """Give ``user`` a password the live server can check: it runs the production hashers,
    not the suite's fast one."""
    user.password = make_password(password, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])


def _wait_until_serving(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the web role exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the web role did not start: {log.read_text()[-2000:]}")


def web_env(**extra: str) -> dict[str, str]:
    """The environment of a web role on the test database, as production would run it."""
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "DATABASE_URL": database_url(),
        "LINKFLOW_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "LINKFLOW_DB_POOL": "false",
        # Billing on, so the usage journey sees the plan a test puts a workspace on; every
        # other workspace gets the suite's default plan, unlimited (settings_test.py).
        "LINKFLOW_BILLING": "on",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(ROOT / "var" / f"e2e-mail-{os.getpid()}"),
        **extra,
    }
    environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return environ


@contextmanager
def serving_web(*, name: str, port: int | None = None, **env: str) -> Iterator[str]:
    """Run a web role (uvicorn, linkflow.asgi) with ``web_env(**env)`` on ``port`` (default:
    a free one) of 127.0.0.1 while the block runs; yields its base URL. Needs database
    access."""
    require_services()
    environ = web_env(**env)
    port = port or free_port()
    log_path = ROOT / "var" / f"e2e-{name}-{os.getpid()}.log"
    log = open(log_path, "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "uvicorn", "linkflow.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(port, proc, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, log)


# The web role and the worker live as long as the browser tests (package scope), not the
# session: a worker left running would take the queued executions other tests look at.
@pytest.fixture(scope="package")
def live_server_url(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A real web role on the test database, shared by the browser tests."""
    with django_db_blocker.unblock(), serving_web(name="web") as url:
        yield url


@pytest.fixture(scope="package")
def e2e_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[subprocess.Popen[bytes]]:
    """One real worker for the browser tests (no beat: nothing here is scheduled)."""
    with django_db_blocker.unblock():
        require_services()
        proc, log = spawn_worker(name=f"e2e-{os.getpid()}", beat=False)
    yield proc
    stop_process(proc, log)


@pytest.fixture(scope="session")
def mail_dir() -> Path:
    """Where the web role writes account mail (the file-based backend), one file a message."""
    return Path(web_env()["EMAIL_FILE_PATH"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's package; Playwright's own download does not work here).

    One per test module: Playwright's sync API keeps an event loop in the test's thread
    while it runs, which Django's async-safety check mistakes for async code calling the
    ORM, so the check is lifted for these (synchronous) tests only, and restored after.
    """
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            yield launched
            launched.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def new_page(
    browser: Any, live_server_url: str, transactional_db: None, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Open a page as a signed-in user (or anonymous with ``user=None``).

    ``width`` sets the viewport (390 for a phone). Pages default to a 15 s timeout (a
    shared machine under load is slow, never wrong: a passing step does not wait it out), and a
    failing test leaves a screenshot under var/e2e/. A test whose pages had anything
    refused by the Content-Security-Policy fails (the console says so).
    """
    contexts: list[Any] = []
    refused: list[str] = []

    def open_page(user: User | None, *, width: int = 1280, height: int = 860) -> Any:
        context = browser.new_context(
            base_url=live_server_url, viewport={"width": width, "height": height}
        )
        # The pages run under a strict CSP: anything it refuses is a bug in a page.
        context.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        if user is not None:
            client = Client()
            client.force_login(user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server_url}]
            )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    failed = getattr(request.node, "rep_call", None)
    for index, context in enumerate(contexts):
        if failed is not None and failed.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for number, page in enumerate(context.pages):
                name = f"{request.node.name}-{index}-{number}.png"
                page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        context.close()
    assert refused == [], "the Content-Security-Policy refused something on a page"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
