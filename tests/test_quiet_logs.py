"""Quiet, useful logs: maintenance speaks only when it did something, Celery's per-task
chatter is below INFO (its errors are not), and the admin account notice is plain."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from executions import tasks
from executions.models import Execution
from linkflow.accounts.models import User

from .executing import personal_workflow, recorded_execution

pytestmark = pytest.mark.django_db


def _info_from(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == name and r.levelno == logging.INFO]


def test_periodic_maintenance_logs_nothing_when_there_was_nothing_to_do(caplog, owner):
    personal_workflow(owner, "idle")
    caplog.set_level(logging.DEBUG)

    counts = [tasks.resume_due(), tasks.requeue_stale(), tasks.cleanup()]

    assert counts == [0, 0, 0]
    assert _info_from(caplog, "executions.tasks") == []


def test_periodic_maintenance_says_what_it_did_at_info(caplog, owner):
    parked = recorded_execution(personal_workflow(owner, "w"), status="waiting")
    Execution.objects.filter(pk=parked.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    caplog.set_level(logging.INFO)

    assert tasks.resume_due() == 1

    assert _info_from(caplog, "executions.tasks") == ["resumed 1 parked executions whose time came"]


@pytest.mark.parametrize("name", ["celery.app.trace", "celery.worker.strategy", "celery.beat"])
def test_celerys_per_task_lines_are_below_info_and_its_errors_are_not(name):
    # "Task … succeeded", "Received task", "Sending due task": 2-3 a second from the
    # 1-second resume-due-executions entry when they were at INFO.
    configured = settings.LOGGING["loggers"][name]["level"]
    logger = logging.getLogger(name)

    assert configured == "WARNING"
    assert not logger.isEnabledFor(logging.INFO)
    assert logger.isEnabledFor(logging.ERROR)


def _ensure_admin(settings, password: str = "") -> str:  # type: ignore[no-untyped-def]
    settings.LINKFLOW_ADMIN_EMAIL = "Admin@Example.com"
    settings.LINKFLOW_ADMIN_PASSWORD = password
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_a_generated_admin_password_is_printed_once_in_a_frame_and_works(settings):
    output = _ensure_admin(settings).strip().splitlines()

    frame = output[0]
    assert frame.startswith("+-") and frame == output[-1]
    assert all(line.startswith("| ") and line.endswith(" |") for line in output[1:-1])
    password = output[2].split("stored hashed): ")[1].rstrip(" |")
    admin = User.objects.get(email="admin@example.com")
    assert admin.check_password(password) and admin.is_staff and admin.is_superuser
    assert "changepassword admin@example.com" in output[3]
    assert password not in _ensure_admin(settings)  # never shown again


def test_admin_password_set_on_an_existing_admin_resets_it(settings):
    _ensure_admin(settings)

    output = _ensure_admin(settings, password="the-new-Passw0rd-123")

    assert (
        output.strip()
        == "Admin user admin@example.com: password reset from LINKFLOW_ADMIN_PASSWORD."
    )
    assert User.objects.get(email="admin@example.com").check_password("the-new-Passw0rd-123")


def test_without_admin_password_an_existing_admin_is_left_alone_and_it_says_so(settings):
    _ensure_admin(settings, password="the-first-Passw0rd-123")

    output = _ensure_admin(settings)

    assert "its password was not changed" in output
    assert "LINKFLOW_ADMIN_PASSWORD" in output and "changepassword" in output
    assert User.objects.get(email="admin@example.com").check_password("the-first-Passw0rd-123")
