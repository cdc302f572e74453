"""``Idempotency-Key`` on execute: a repeated key within 24 hours gets the first execution."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from executions.models import Execution
from executions.services import execution_create
from workflows.models import Workflow

from ..billing import on_plan
from ..conftest import require_services
from ..executing import chain, create_workflow

NOOP = {"id": "noop", "type": "flow.noop"}


def execute(api, workflow_id: str, key: str | None, payload: int = 1):  # type: ignore[no-untyped-def]
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return api.post(
        f"/api/v1/workflows/{workflow_id}/execute",
        {"input": {"n": payload}},
        format="json",
        **headers,
    )


@pytest.mark.django_db
def test_the_same_key_returns_the_first_execution_instead_of_a_new_one(api):
    workflow_id = create_workflow(api, chain(NOOP))
    first = execute(api, workflow_id, "order-42")

    again = execute(api, workflow_id, "order-42", payload=2)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 1
    assert Execution.objects.get(workflow_id=workflow_id).trigger_input == {"n": 1}


@pytest.mark.django_db
def test_a_different_key_or_no_key_makes_a_new_execution(api):
    workflow_id = create_workflow(api, chain(NOOP))

    ids = {
        execute(api, workflow_id, "a").json()["id"],
        execute(api, workflow_id, "b").json()["id"],
        execute(api, workflow_id, None).json()["id"],
        execute(api, workflow_id, None).json()["id"],
    }

    assert len(ids) == 4
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 4


@pytest.mark.django_db
def test_a_key_is_per_workflow(api):
    one = create_workflow(api, chain(NOOP), name="one")
    two = create_workflow(api, chain(NOOP), name="two")

    first, second = execute(api, one, "same"), execute(api, two, "same")

    assert first.json()["id"] != second.json()["id"]
    assert first.json()["workflow"] != second.json()["workflow"]


@pytest.mark.django_db
def test_a_key_older_than_24_hours_makes_a_new_execution(api):
    workflow_id = create_workflow(api, chain(NOOP))
    old_id = execute(api, workflow_id, "nightly").json()["id"]
    Execution.objects.filter(pk=old_id).update(
        created_at=Execution.objects.get(pk=old_id).created_at - timedelta(hours=24, seconds=1)
    )

    fresh = execute(api, workflow_id, "nightly")

    assert fresh.status_code == 202
    assert fresh.json()["id"] != old_id
    assert Execution.objects.get(pk=old_id).dedupe_key is None
    assert execute(api, workflow_id, "nightly").json()["id"] == fresh.json()["id"]


@pytest.mark.django_db
def test_a_key_longer_than_200_characters_answers_400_and_runs_nothing(api):
    workflow_id = create_workflow(api, chain(NOOP))

    response = execute(api, workflow_id, "k" * 201)

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "Some fields are invalid.",
            "details": {"Idempotency-Key": ["Use 1 to 200 printable ASCII characters."]},
        }
    }
    assert not Execution.objects.filter(workflow_id=workflow_id).exists()
    assert execute(api, workflow_id, "k" * 200).status_code == 202


@pytest.mark.django_db
def test_a_repeated_key_is_answered_even_when_the_plan_is_used_up(owner, api, billing_on):
    on_plan(owner, executions_per_month=1)
    workflow_id = create_workflow(api, chain(NOOP))
    first = execute(api, workflow_id, "once")

    again = execute(api, workflow_id, "once")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert execute(api, workflow_id, "another").status_code == 402


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_execution(owner, api):
    require_services()
    workflow = Workflow.objects.get(pk=create_workflow(api, chain(NOOP)))
    barrier = threading.Barrier(6)
    ids: list[str] = []

    def call() -> None:
        try:
            barrier.wait()
            execution = execution_create(
                user=owner,
                workflow=workflow,
                trigger_input={},
                mode="api",
                dedupe_key="idem:race",
            )
            ids.append(str(execution.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(ids) == 6 and len(set(ids)) == 1
    assert Execution.objects.filter(workflow=workflow).count() == 1
