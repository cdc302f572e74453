"""Django admin as the operator's console: every page of LinkFlow's models opens with data
in it, the actions change things through the same services as the API, secrets never
appear, and the front page shows the fleet's figures (also while Redis is down)."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import Plan, Subscription, UsageDaily
from credentials.models import Credential
from credentials.services import credential_create
from executions.maintenance.dead_letters import dead_letter_record
from executions.models import DeadLetter, Execution, NodeRun
from executions.services import execution_create
from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.models import ApiKey, Membership, User, Workspace
from linkflow.accounts.services import user_create
from linkflow.audit.models import AuditEvent
from linkflow.core.metrics import queue_depth
from workflows.models import WebhookTrigger, Workflow, WorkflowVersion
from workflows.services import workflow_create, workflow_update

from .billing import on_plan
from .conftest import require_services, signed_in_client

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "tok-3f9a-very-secret-value"
WEBHOOK_GRAPH = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"method": "POST"}},
        {"id": "shape", "type": "data.set", "params": {"fields": {"ok": True}}},
    ],
    "edges": [{"source": "hook", "target": "shape"}],
}


@pytest.fixture
def operator() -> Client:
    user = user_create(email="ops@example.com", password="pw-ops-123456", is_staff=True)
    return signed_in_client(user, raise_request_exception=False)


@pytest.fixture
def world(owner: User) -> dict:
    """One of everything an operator looks at, made through the services."""
    workspace = on_plan(owner)
    workflow = workflow_create(
        user=owner, workspace=workspace, name="Orders in", graph=WEBHOOK_GRAPH
    )
    workflow = workflow_update(user=owner, workflow=workflow, changes={"active": True})
    execution = _queued(owner, workflow)
    NodeRun.objects.create(
        execution=execution, node_id="hook", node_type="trigger.webhook", status="succeeded"
    )
    credential = credential_create(
        workspace=workspace, name="Shop token", type="http_bearer", data={"token": SECRET_TOKEN}
    )
    key, raw_key = api_key_create(
        user=owner, workspace=workspace, name="CI", scopes=["workflows:read"]
    )
    # The id of no execution: a worker that picks the replayed job up has nothing to do.
    dead_letter = dead_letter_record(
        task_name="executions.run", args=[str(uuid.uuid4())], kwargs={}, error="RuntimeError: boom"
    )
    UsageDaily.objects.create(workspace=workspace, day=timezone.localdate(), succeeded=3)
    return {
        "workspace": workspace,
        "workflow": workflow,
        "execution": execution,
        "credential": credential,
        "key": key,
        "raw_key": raw_key,
        "dead_letter": dead_letter,
    }


def _queued(owner: User, workflow: Workflow) -> Execution:
    return execution_create(user=owner, workflow=workflow, trigger_input={"n": 1}, mode="manual")


def _admin_url(model: type, name: str, *args: object) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{name}", args=args)


def _act(client: Client, model: type, action: str, objects: list) -> str:
    response = client.post(
        _admin_url(model, "changelist"),
        {"action": action, "_selected_action": [str(o.pk) for o in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return " ".join(str(m) for m in response.context["messages"])


# --- every page opens -----------------------------------------------------------------------
def test_every_changelist_and_change_page_opens_with_its_data(operator, world, owner):
    objects = {
        User: owner,
        Workspace: world["workspace"],
        Membership: Membership.objects.first(),
        ApiKey: world["key"],
        AuditEvent: AuditEvent.objects.first(),
        Workflow: world["workflow"],
        WorkflowVersion: world["workflow"].current_version,
        WebhookTrigger: WebhookTrigger.objects.get(workflow=world["workflow"]),
        Execution: world["execution"],
        NodeRun: NodeRun.objects.get(),
        DeadLetter: world["dead_letter"],
        Credential: world["credential"],
        Plan: Plan.objects.first(),
        Subscription: Subscription.objects.get(workspace=world["workspace"]),
        UsageDaily: UsageDaily.objects.get(),
    }
    ours = {m for m in site._registry if m._meta.app_label not in ("auth", "django_celery_beat")}
    ours -= {m for m in ours if m.__module__.startswith(("oauth2_provider", "rest_framework"))}
    assert ours <= set(objects), ours - set(objects)

    failures = {}
    for model, obj in objects.items():
        listing = operator.get(_admin_url(model, "changelist"))
        change = operator.get(_admin_url(model, "change", obj.pk))
        # Searching with text that is no id must not break the exact-id lookups.
        search = operator.get(_admin_url(model, "changelist"), {"q": "orders x"})
        statuses = (listing.status_code, change.status_code, search.status_code)
        if statuses != (200, 200, 200):
            failures[model.__name__] = statuses
        elif str(obj.pk) not in listing.content.decode():
            failures[model.__name__] = "object missing from its list"
    assert failures == {}


def test_execution_page_shows_its_node_runs_read_only(operator, world):
    body = operator.get(_admin_url(Execution, "change", world["execution"].pk)).content.decode()
    assert "trigger.webhook" in body  # the inline NodeRun
    assert 'name="status"' not in body and "node_runs-0-status" not in body


def test_workflow_change_form_has_no_active_field_to_edit(operator, world):
    workflow = world["workflow"]
    url = _admin_url(Workflow, "change", workflow.pk)
    body = operator.get(url).content.decode()
    assert 'name="active"' not in body

    # An unchecked box is simply absent from a form post: were `active` editable, this
    # save would switch the workflow off behind the services' back.
    form = {"name": "Renamed", "description": "", "workspace": workflow.workspace_id}
    inline = {f"versions-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()}
    response = operator.post(url, {**form, **inline})
    assert response.status_code == 302

    workflow.refresh_from_db()
    assert workflow.name == "Renamed" and workflow.active is True


# --- actions through the services -----------------------------------------------------------
def test_cancel_action_cancels_a_queued_execution_and_skips_a_finished_one(operator, world, owner):
    queued = world["execution"]
    finished = _queued(owner, world["workflow"])
    Execution.objects.filter(pk=finished.pk).update(status="succeeded")

    message = _act(operator, Execution, "cancel_executions", [queued, finished])

    queued.refresh_from_db()
    assert queued.status == "cancelled"
    assert Execution.objects.get(pk=finished.pk).status == "succeeded"
    assert "1 cancelled." in message and "already finished" in message


def test_retry_action_queues_a_new_run_of_a_finished_execution(operator, world):
    execution = world["execution"]
    Execution.objects.filter(pk=execution.pk).update(status="failed")

    message = _act(operator, Execution, "retry_executions", [execution])

    repeat = Execution.objects.get(source=execution)
    assert repeat.status == "queued" and repeat.trigger_input == {"n": 1}
    assert "1 retried." in message


def test_replay_action_sends_the_dead_letter_again(
    operator, world, django_capture_on_commit_callbacks
):
    require_services()  # the queue depth is read from Redis
    dead_letter = world["dead_letter"]
    before = queue_depth()

    with django_capture_on_commit_callbacks(execute=True):
        message = _act(operator, DeadLetter, "replay_dead_letters", [dead_letter])

    dead_letter.refresh_from_db()
    assert dead_letter.status == "replayed"
    assert queue_depth() == before + 1  # the job is back on the queue
    assert "1 replayed." in message


def test_discard_action_discards_and_a_second_discard_is_skipped(operator, world):
    dead_letter = world["dead_letter"]
    _act(operator, DeadLetter, "discard_dead_letters", [dead_letter])

    again = _act(operator, DeadLetter, "discard_dead_letters", [dead_letter])

    dead_letter.refresh_from_db()
    assert dead_letter.status == "discarded"
    assert "0 discarded." in again and "Only a pending dead letter" in again


def test_deactivate_action_goes_through_the_service_and_is_audited(operator, world):
    workflow = world["workflow"]

    message = _act(operator, Workflow, "deactivate_workflows", [workflow])

    workflow.refresh_from_db()
    assert workflow.active is False
    assert "1 deactivated." in message
    event = AuditEvent.objects.get(action="workflow.deactivate")
    assert event.actor.email == "ops@example.com"


def test_revoke_action_revokes_the_key(operator, world):
    key = world["key"]

    message = _act(operator, ApiKey, "revoke_keys", [key])

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "1 revoked." in message
    assert AuditEvent.objects.filter(action="api_key.revoke").exists()


# --- secrets --------------------------------------------------------------------------------
def test_credential_and_key_pages_never_show_a_secret(operator, world):
    credential = Credential.objects.get(pk=world["credential"].pk)
    key = ApiKey.objects.get(pk=world["key"].pk)
    pages = [
        operator.get(_admin_url(Credential, "changelist")),
        operator.get(_admin_url(Credential, "change", credential.pk)),
        operator.get(_admin_url(ApiKey, "changelist")),
        operator.get(_admin_url(ApiKey, "change", key.pk)),
    ]
    for response in pages:
        body = response.content.decode()
        assert response.status_code == 200
        assert SECRET_TOKEN not in body
        assert credential.secret[:40] not in body
        assert world["raw_key"] not in body
        assert key.secret_hash not in body


# --- the front page -------------------------------------------------------------------------
def test_index_shows_queue_depth_and_execution_counts(operator, world, owner):
    require_services()  # the queue depth is read from Redis
    _queued(owner, world["workflow"])  # two queued now
    failed = _queued(owner, world["workflow"])
    old_failure = _queued(owner, world["workflow"])
    Execution.objects.filter(pk=failed.pk).update(status="failed", finished_at=timezone.now())
    Execution.objects.filter(pk=old_failure.pk).update(
        status="failed", finished_at=timezone.now() - timedelta(days=2)
    )
    Execution.objects.filter(pk=world["execution"].pk).update(status="running")

    body = operator.get(reverse("admin:index")).content.decode()

    assert f'id="console-queue-depth">{queue_depth()}<' in body
    assert 'id="console-queued">1<' in body
    assert 'id="console-running">1<' in body
    assert 'id="console-waiting">0<' in body
    assert 'id="console-failed">1<' in body
    assert 'id="console-dead-letters">1<' in body


def test_index_says_unavailable_when_redis_is_down(operator, world, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there

    response = operator.get(reverse("admin:index"))

    assert response.status_code == 200
    assert 'id="console-queue-depth">unavailable<' in response.content.decode()


def test_non_staff_user_cannot_open_the_console(owner, world):
    response = signed_in_client(owner).get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
