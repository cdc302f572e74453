"""Test overrides, in one place. The suite runs on whatever DATABASE_URL/REDIS_URL say."""

import os

# Plan limits and rate limits stay out of the way of tests that are not about them (those
# set their own plan or rates). Set in the environment, so the worker processes the tests
# start (plain linkflow.settings) agree with this process.
os.environ.setdefault("LINKFLOW_DEFAULT_PLAN", "unlimited")
for _group in ("DEFAULT", "AUTH", "EXECUTE", "PREVIEW"):
    os.environ.setdefault(f"LINKFLOW_RATE_{_group}", "100000/min")
# Test runs too (the tests of those limits set their own).
os.environ.setdefault("LINKFLOW_TEST_RUNS_PER_MINUTE", "100000")
os.environ.setdefault("LINKFLOW_TEST_RUN_CONCURRENCY", "1000")
# Production settings (DEBUG off, service URLs set) refuse to start without an explicit key.
os.environ.setdefault("SECRET_KEY", "linkflow-tests-only-not-a-secret")
# ... and without explicit credential keys (a Fernet key: 32 bytes, urlsafe base64).
os.environ.setdefault("LINKFLOW_CREDENTIAL_KEYS", "bGlua2Zsb3ctdGVzdHMtb25seS1ub3QtYS1zZWNyZXQ=")
# The sign-in lockout too: tests of it set their own limit (runs share Redis and e-mails).
os.environ.setdefault("LINKFLOW_LOGIN_MAX_FAILURES", "100000")
os.environ.setdefault("LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS", "100000")
os.environ.setdefault("LINKFLOW_PASSWORD_RESET_MAX", "100000")

from .settings import *  # noqa: E402, F403
from .settings import DATABASES  # noqa: E402

# Fast hashing for the suite; PBKDF2 too, for passwords that a live server (production
# settings) must check, as the browser tests' sign-in does (tests/e2e/conftest.py).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# pytest-django creates and drops the test database; a pool would hold it open.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)

# A queue of this test run's own, so a worker the tests start never takes another run's
# messages (or a developer's) from a shared Redis.
CELERY_TASK_DEFAULT_QUEUE = f"linkflow-test-{os.getpid()}"
