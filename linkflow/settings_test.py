"""Test overrides, in one place. The suite runs on whatever DATABASE_URL/REDIS_URL say."""

import os

from .settings import *  # noqa: F403
from .settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# pytest-django creates and drops the test database; a pool would hold it open.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)

# A queue of this test run's own, so a worker the tests start never takes another run's
# messages (or a developer's) from a shared Redis.
CELERY_TASK_DEFAULT_QUEUE = f"linkflow-test-{os.getpid()}"
