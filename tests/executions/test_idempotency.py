"""``Idempotency-Key`` on execute: a repeated key within 24 hours with the same body gets
the first execution; with a different body it is refused (422 idempotency_key_reused)."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection

from executions.models import Execution
from executions.services import execution_create
from executions.starting.idempotency import request_fingerprint
from linkflow.core.errors import LinkflowError
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
def test_the_same_key_and_body_returns_the_first_execution_instead_of_a_new_one(api):
    workflow_id = create_workflow(api, chain(NOOP))
    first = execute(api, workflow_id, "order-42")

    again = execute(api, workflow_id, "order-42")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_answers_422_and_stores_nothing(api):
    workflow_id = create_workflow(api, chain(NOOP))
    first = execute(api, workflow_id, "order-42", payload=1)

    again = execute(api, workflow_id, "order-42", payload=2)

    assert again.status_code == 422
    assert again.json() == {
        "error": {
            "code": "idempotency_key_reused",
            "message": "This Idempotency-Key was already used with a different request body.",
            "details": {"header": "Idempotency-Key", "execution_id": first.json()["id"]},
        }
    }
    assert Execution.objects.filter(workflow_id=workflow_id).count() == 1
    assert Execution.objects.get(workflow_id=workflow_id).trigger_input == {"n": 1}
    # the first body still answers the first execution
    assert execute(api, workflow_id, "order-42", payload=1).json()["id"] == first.json()["id"]


@pytest.mark.django_db
def test_key_order_and_whitespace_do_not_make_another_body(api):
    workflow_id = create_workflow(api, chain(NOOP))
    url = f"/api/v1/workflows/{workflow_id}/execute"
    headers = {"HTTP_IDEMPOTENCY_KEY": "sorted"}
    first = api.post(
        url, '{"input": {"a": 1, "b": [1, 2]}}', content_type="application/json", **headers
    )

    again = api.post(
        url, '{ "input" : {"b":[1,2],"a":1} }', content_type="application/json", **headers
    )
    other = api.post(
        url, '{"input": {"a": 1, "b": [2, 1]}}', content_type="application/json", **headers
    )

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422  # list order is data


@pytest.mark.django_db
def test_no_body_and_an_empty_input_are_the_same_request(api):
    workflow_id = create_workflow(api, chain(NOOP))
    url = f"/api/v1/workflows/{workflow_id}/execute"
    headers = {"HTTP_IDEMPOTENCY_KEY": "empty"}

    first = api.post(url, {}, format="json", **headers)
    again = api.post(url, {"input": {}}, format="json", **headers)

    assert again.json()["id"] == first.json()["id"]


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


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_and_two_bodies_make_one_execution(owner, api):
    """Whichever body wins the key, the callers with the other body are refused, whether
    they lose the race at the first lookup or at the insert."""
    require_services()
    workflow = Workflow.objects.get(pk=create_workflow(api, chain(NOOP)))
    barrier = threading.Barrier(6)
    answers: list[tuple[int, str]] = []

    def call(n: int) -> None:
        try:
            barrier.wait()
            execution = execution_create(
                user=owner,
                workflow=workflow,
                trigger_input={"n": n},
                mode="api",
                dedupe_key="idem:race-bodies",
                dedupe_fingerprint=request_fingerprint({"input": {"n": n}}),
            )
            answers.append((n, str(execution.pk)))
        except LinkflowError as error:
            answers.append((n, error.code))
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(index % 2,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (only,) = Execution.objects.filter(workflow=workflow)
    winner = only.trigger_input["n"]
    assert sorted(answers) == sorted(
        (n, str(only.pk) if n == winner else "idempotency_key_reused") for n, _ in answers
    )
    assert len(answers) == 6


def test_the_fingerprint_is_canonical_json():
    assert request_fingerprint({"b": 1, "a": "é"}) == request_fingerprint(
        json.loads('{"a":"é","b":1}')
    )
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 1.0})
