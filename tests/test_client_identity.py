"""Client identity for limits (issue #10, section 5): the connection's address, unless it
is a proxy the operator names in LINKFLOW_TRUSTED_PROXIES.

In-process tests drive Django's test client with REMOTE_ADDR and X-Forwarded-For; the
end-to-end tests start the web role as the Procfile runs it (uvicorn, whose own proxy
trust comes from the same setting) and replay the attack: a rotating X-Forwarded-For.
"""

from __future__ import annotations

import os
import random
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from linkflow.accounts.login_throttle import _address_only, login_succeeded
from linkflow.core.client_ip import client_address, trusted_proxies_from

from .conftest import ROOT, database_url, free_port, require_services, stop_process

pytestmark = pytest.mark.django_db


def some_address() -> str:
    """An address no other test counts under (the cache outlives a run)."""
    return f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"


def forged() -> str:
    """A fresh X-Forwarded-For value, as the attacker rotates it."""
    return f"203.0.113.{random.randrange(1, 255)}, 198.51.100.{random.randrange(1, 255)}"


class _Request:
    def __init__(self, remote: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


# --- the rule -----------------------------------------------------------------------------


def test_without_trusted_proxies_the_header_is_ignored(settings: Any) -> None:
    settings.LINKFLOW_TRUSTED_PROXIES = []

    assert client_address(_Request("127.0.0.1", "1.2.3.4")) == "127.0.0.1"
    assert client_address(_Request("", "1.2.3.4")) == "unknown"


def test_a_trusted_proxy_names_the_client_and_forged_hops_before_it_are_ignored(
    settings: Any,
) -> None:
    settings.LINKFLOW_TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]

    # The client forged "6.6.6.6"; its real address is what the first proxy appended.
    chain = "6.6.6.6, 192.0.2.7, 10.1.2.3"
    assert client_address(_Request("127.0.0.1", chain)) == "192.0.2.7"
    assert client_address(_Request("127.0.0.1")) == "127.0.0.1"
    # A peer that is not a trusted proxy cannot use the header at all.
    assert client_address(_Request("192.0.2.8", chain)) == "192.0.2.8"


def test_a_bad_trusted_proxies_entry_is_refused() -> None:
    assert trusted_proxies_from(["10.0.0.1", " 10.0.0.0/8 ", "", "::1"])
    for bad in ("*", "proxy.internal", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="LINKFLOW_TRUSTED_PROXIES"):
            trusted_proxies_from([bad])


def test_settings_refuse_to_start_with_a_bad_trusted_proxies_value() -> None:
    env = {**os.environ, "LINKFLOW_TRUSTED_PROXIES": "10.0.0.1,*"}
    env["DJANGO_SETTINGS_MODULE"] = "linkflow.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "LINKFLOW_TRUSTED_PROXIES: '*' is not an IP address" in result.stderr


# --- in-process: API throttles, lockout, sign-in form --------------------------------------


def test_the_api_throttle_counts_by_address_whatever_x_forwarded_for_says(
    settings: Any,
) -> None:
    settings.LINKFLOW_RATES = {**settings.LINKFLOW_RATES, "auth": "5/hour"}
    client = APIClient(REMOTE_ADDR=some_address())

    statuses = [
        client.post(
            "/api/v1/auth/token/",
            {"email": f"{uuid.uuid4().hex}@example.com", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=forged(),
        ).status_code
        for _ in range(6)
    ]

    # DRF's own get_ident put each forged header in a bucket of its own: 6 x 401.
    assert statuses == [401] * 5 + [429]


def test_the_sign_in_form_caps_failures_per_address_across_e_mails(settings: Any) -> None:
    settings.LINKFLOW_LOGIN_MAX_FAILURES = 5
    settings.LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    client = Client(REMOTE_ADDR=some_address())

    statuses = [
        client.post(
            "/accounts/login/",
            {"username": f"{uuid.uuid4().hex}@example.com", "password": "guess"},
            HTTP_X_FORWARDED_FOR=forged(),
        ).status_code
        for _ in range(25)
    ]

    assert statuses == [200] * 20 + [429] * 5


def test_a_successful_sign_in_does_not_reset_the_per_address_count(
    settings: Any, owner: Any
) -> None:
    from .factories import PASSWORD

    settings.LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    client = Client(REMOTE_ADDR=some_address())

    def sign_in(email: str, password: str) -> int:
        return client.post(
            "/accounts/login/", {"username": email, "password": password}
        ).status_code

    failures = [sign_in(f"{uuid.uuid4().hex}@example.com", "guess") for _ in range(2)]
    own = sign_in(owner.email, PASSWORD)  # the attacker's own account
    client.logout()
    later = [sign_in(f"{uuid.uuid4().hex}@example.com", "guess") for _ in range(2)]

    assert (failures, own, later) == ([200, 200], 302, [200, 429])


def test_with_a_trusted_proxy_each_forwarded_client_has_its_own_lockout(
    settings: Any,
) -> None:
    settings.LINKFLOW_TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LINKFLOW_LOGIN_MAX_FAILURES = 2
    email = f"{uuid.uuid4().hex}@example.com"
    first, second = some_address(), some_address()
    client = APIClient(REMOTE_ADDR="127.0.0.1")

    def token(client_ip: str) -> int:
        body = {"email": email, "password": "x"}
        return client.post(
            "/api/v1/auth/token/", body, format="json", HTTP_X_FORWARDED_FOR=client_ip
        ).status_code

    assert [token(first) for _ in range(3)] == [401, 401, 429]
    assert token(second) == 401


# --- end to end: the web role as the Procfile starts it ------------------------------------


def procfile_web_command() -> str:
    """The Procfile's web command, on 127.0.0.1 and this interpreter's uvicorn."""
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    command = line.removeprefix("web:").strip()
    command = command.replace("--host 0.0.0.0", "--host 127.0.0.1")
    assert command.startswith("uvicorn ")
    return f"exec {shlex.quote(sys.executable)} -m {command}"


@contextmanager
def procfile_web(**env: str) -> Iterator[str]:
    """Run the Procfile's web role (one process) on the test database; yields its URL."""
    require_services()
    port = free_port()
    # Whatever this shell trusts, the web role trusts only what the test names.
    ignored = {"LINKFLOW_TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environ = {name: value for name, value in os.environ.items() if name not in ignored}
    environ.update(
        DJANGO_SETTINGS_MODULE="linkflow.settings",
        DATABASE_URL=database_url(),
        LINKFLOW_DB_POOL="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        # Small limits: the live server checks every guess with the real (slow) hasher.
        LINKFLOW_LOGIN_MAX_FAILURES="3",
        LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS="8",
        **env,
    )
    log = open(ROOT / "var" / f"identity-web-{os.getpid()}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["sh", "-c", procfile_web_command()],
        cwd=ROOT,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc)
        yield base
    finally:
        stop_process(proc, log)


def _wait_until_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the web role exited"
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the web role did not start")


@pytest.fixture
def loopback_counts_cleared() -> Iterator[None]:
    """The web role sees the tests as 127.0.0.1, whose per-address count lives in the
    shared Redis across runs: start and end from zero."""
    cache.delete_many(list(_address_only(address="127.0.0.1")))
    yield
    cache.delete_many(list(_address_only(address="127.0.0.1")))


@pytest.fixture
def locked_user(transactional_db: None) -> Iterator[Any]:
    from django.contrib.auth.hashers import make_password

    from linkflow.accounts.services import user_create

    user = user_create(email=f"locked-{uuid.uuid4().hex}@example.com", password="unused")
    # The live server runs the production hashers, not the suite's fast one.
    user.password = make_password("right-password", hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    yield user
    login_succeeded(address="127.0.0.1", email=user.email)


def token(base: str, email: str, password: str, forwarded: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/auth/token/",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": forwarded},
        timeout=10,
    )


def test_e2e_a_rotating_x_forwarded_for_does_not_evade_the_limits(
    locked_user: Any, loopback_counts_cleared: None
) -> None:
    with procfile_web() as base:
        guesses = [
            token(base, locked_user.email, "wrong", forwarded=forged()).status_code
            for _ in range(3)
        ]
        locked = token(base, locked_user.email, "right-password", forwarded=forged())
        others = [
            token(base, f"{uuid.uuid4().hex}@example.com", "x", forwarded=forged()).status_code
            for _ in range(8)
        ]

    assert guesses == [401] * 3
    # The right password with a fresh header: still locked, no tokens handed out.
    assert locked.status_code == 429
    assert "access" not in locked.json()
    # 3 failures counted already, 5 more reach the per-address cap of 8, whatever e-mail.
    assert others == [401] * 5 + [429] * 3


def test_e2e_the_sign_in_form_caps_one_address_across_e_mails(
    transactional_db: None, loopback_counts_cleared: None
) -> None:
    with procfile_web() as base, httpx.Client(base_url=base, timeout=10) as browser:
        statuses = []
        for _ in range(10):
            page = browser.get("/accounts/login/")
            csrf = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
            answer = browser.post(
                "/accounts/login/",
                data={
                    "csrfmiddlewaretoken": csrf,
                    "username": f"{uuid.uuid4().hex}@example.com",
                    "password": "guess",
                },
                headers={"X-Forwarded-For": forged(), "Referer": f"{base}/accounts/login/"},
            )
            statuses.append(answer.status_code)

    assert statuses == [200] * 8 + [429] * 2


def test_e2e_with_trusted_proxies_the_forwarded_client_is_honoured(
    locked_user: Any, loopback_counts_cleared: None
) -> None:
    first, second = some_address(), some_address()
    try:
        with procfile_web(LINKFLOW_TRUSTED_PROXIES="127.0.0.1") as base:
            guesses = [
                token(base, locked_user.email, "wrong", forwarded=first).status_code
                for _ in range(4)
            ]
            elsewhere = token(base, locked_user.email, "right-password", forwarded=second)
    finally:
        for address in (first, second):
            login_succeeded(address=address, email=locked_user.email)
            cache.delete_many(list(_address_only(address=address)))

    # The lockout belongs to the client the proxy named, not to the proxy.
    assert guesses == [401] * 3 + [429]
    assert elsewhere.status_code == 200
    assert "access" in elsewhere.json()
