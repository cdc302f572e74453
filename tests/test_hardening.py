"""Operator hardening: production settings refuse unsafe defaults, and sign-in guessing is
cut off after a few failures (JWT token endpoint and Django admin alike)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from linkflow.accounts.login_throttle import login_succeeded
from linkflow.accounts.models import User
from linkflow.accounts.services import user_create

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long and decent passphrase"
KEY = "a-production-secret-key-that-is-long-enough-and-random-0123456789"
CREDENTIAL_KEY = "cHJvZHVjdGlvbi1jcmVkZW50aWFsLWtleS0wMTIzNDU="  # a Fernet key, 32 bytes
# Production mode needs only the variable: `check` never connects to this database.
UNREACHABLE_DB = "postgres://nobody@127.0.0.1:1/nothing"
_OURS = (
    "SECRET_KEY",
    "LINKFLOW_CREDENTIAL_KEYS",
    "DEBUG",
    "ALLOWED_HOSTS",
    "LINKFLOW_HTTPS",
    "REDIS_URL",
    "DATABASE_URL",
)


def _check_deploy(var_dir: Path, **env: str) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if k not in _OURS}
    environ = {
        **base,
        "DJANGO_SETTINGS_MODULE": "linkflow.settings",
        "LINKFLOW_VAR_DIR": str(var_dir),
        **env,
    }
    return subprocess.Popen(
        # Only the security checks: the rest (the OpenAPI schema, URLs) take seconds more.
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_PRODUCTION = {"DATABASE_URL": UNREACHABLE_DB}
_KEYS = {"SECRET_KEY": KEY, "LINKFLOW_CREDENTIAL_KEYS": CREDENTIAL_KEY}
COMBOS = {
    "default_secret": _PRODUCTION,
    "no_credential_keys": {
        **_PRODUCTION,
        "SECRET_KEY": KEY,
        "ALLOWED_HOSTS": "linkflow.example.com",
    },
    "no_hosts": {**_PRODUCTION, **_KEYS},
    "explicit": {**_PRODUCTION, **_KEYS, "ALLOWED_HOSTS": "linkflow.example.com"},
    "https": {
        **_PRODUCTION,
        **_KEYS,
        "ALLOWED_HOSTS": "linkflow.example.com",
        "LINKFLOW_HTTPS": "true",
    },
    "debug": {**_PRODUCTION, "DEBUG": "true"},
    "embedded": {},
}


@pytest.fixture(scope="module")
def var_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each combination's own LINKFLOW_VAR_DIR, to see which keys it generated."""
    return {name: tmp_path_factory.mktemp(name) for name in COMBOS}


@pytest.fixture(scope="module")
def checks(var_dirs: dict[str, Path]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each environment combination checked once, all at the same time (each process takes
    a few seconds)."""
    started = {name: _check_deploy(var_dirs[name], **env) for name, env in COMBOS.items()}
    results = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
    return results


def test_production_refuses_to_start_on_the_generated_secret_key(checks: Any) -> None:
    result = checks["default_secret"]

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set in the environment" in result.stderr


def test_production_refuses_to_start_without_credential_keys(
    checks: Any, var_dirs: dict[str, Path]
) -> None:
    result = checks["no_credential_keys"]

    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: LINKFLOW_CREDENTIAL_KEYS must be set in the environment"
        in result.stderr
    )
    assert not (var_dirs["no_credential_keys"] / "credential_key").exists()


def test_production_accepts_explicit_keys_and_hosts(checks: Any, var_dirs: dict[str, Path]) -> None:
    result = checks["explicit"]

    assert result.returncode == 0, result.stderr
    assert "linkflow.E" not in result.stderr + result.stdout
    # Neither key fell back to a file of this machine's.
    assert list(var_dirs["explicit"].glob("*_key")) == []


def test_debug_and_embedded_modes_keep_the_generated_credential_key(
    checks: Any, var_dirs: dict[str, Path]
) -> None:
    for mode in ("debug", "embedded"):
        assert checks[mode].returncode == 0, checks[mode].stderr
        assert (var_dirs[mode] / "credential_key").read_text().strip()


def test_production_requires_allowed_hosts(checks: Any) -> None:
    result = checks["no_hosts"]

    assert result.returncode == 1
    assert "(linkflow.E001) ALLOWED_HOSTS is not set" in result.stderr


def test_production_without_https_is_warned_about(checks: Any) -> None:
    output = checks["explicit"].stderr + checks["explicit"].stdout

    for warning in ("linkflow.W001", "security.W004", "security.W012", "security.W016"):
        assert warning in output


def test_https_turns_on_hsts_and_secure_cookies(checks: Any) -> None:
    result = checks["https"]
    output = result.stderr + result.stdout

    assert result.returncode == 0, result.stderr
    for warning in ("linkflow.W001", "security.W004", "security.W012", "security.W016"):
        assert warning not in output


def test_debug_mode_may_use_the_generated_secret_key(checks: Any) -> None:
    assert checks["debug"].returncode == 0, checks["debug"].stderr


# --- sign-in throttling ------------------------------------------------------------------


@pytest.fixture
def person(db: None, settings: Any) -> Any:
    """A user with a fresh e-mail (the cache is shared between runs) and the real limit."""
    settings.LINKFLOW_LOGIN_MAX_FAILURES = 5
    settings.LINKFLOW_LOGIN_LOCKOUT_SECONDS = 900
    email = f"guess-{uuid.uuid4().hex}@example.com"
    user = user_create(email=email, password=PASSWORD)
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    yield user
    for address in ("127.0.0.1", "10.0.0.2"):
        login_succeeded(address=address, email=email)


def _token(user: User, password: str, address: str = "127.0.0.1") -> Any:
    body = {"email": user.email, "password": password}
    return APIClient(REMOTE_ADDR=address).post("/api/v1/auth/token/", body, format="json")


def test_token_endpoint_answers_429_after_five_failures(person: User) -> None:
    statuses = [_token(person, "wrong").status_code for _ in range(5)]

    refused = _token(person, PASSWORD)

    assert statuses == [401] * 5
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 900
    assert "access" not in refused.json()


def test_token_lockout_is_per_address(person: User) -> None:
    for _ in range(5):
        _token(person, "wrong")

    assert _token(person, PASSWORD, address="10.0.0.2").status_code == 200


def test_a_successful_sign_in_clears_the_failures(person: User) -> None:
    for _ in range(4):
        _token(person, "wrong")
    assert _token(person, PASSWORD).status_code == 200

    statuses = [_token(person, "wrong").status_code for _ in range(4)]

    assert statuses == [401] * 4
    assert _token(person, PASSWORD).status_code == 200


def test_admin_login_answers_429_after_five_failures(person: User) -> None:
    client = Client()

    def sign_in(password: str) -> Any:
        return client.post("/admin/login/", {"username": person.email, "password": password})

    statuses = [sign_in("wrong").status_code for _ in range(5)]
    refused = sign_in(PASSWORD)

    assert statuses == [200] * 5  # the form again, with its error
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
