"""A malformed switch, number or URL in the environment stops start-up naming the variable.

Each case imports the settings in a fresh interpreter, as a starting process does, and
reads the last line of its error (the exception's message, not the traceback's source
lines, which would name the variable whatever the message said).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _start(
    tmp_path: Path, code: str = "import linkflow.settings", **variables: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LINKFLOW_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    environment.update(LINKFLOW_VAR_DIR=str(tmp_path), DEBUG="on", **variables)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LINKFLOW_HTTPS", "treu"),  # read as false before: HSTS and secure cookies off
        ("LINKFLOW_LOGIN_MAX_FAILURES", "5x"),
        ("LINKFLOW_BEAT_LOCK_TTL_SECONDS", "15s"),
        ("LINKFLOW_PUBLIC_URL", "linkflow.example.com"),  # no scheme
        ("REDIS_URL", "http://127.0.0.1:6379/0"),  # not a Redis URL
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(tmp_path, name, value):
    started = _start(tmp_path, **{name: value})

    assert started.returncode != 0
    message = started.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert name in message and repr(value) in message


@pytest.mark.parametrize("value", ["true", "On", "YES", "1"])
def test_each_known_spelling_of_on_is_read_as_on(tmp_path, value):
    started = _start(
        tmp_path,
        "import linkflow.settings as s; print(s.LINKFLOW_HTTPS)",
        LINKFLOW_HTTPS=value,
    )

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == "True"
