"""Big and deep bodies: 413 payload_too_large and 400 malformed_request at every kind of
entrance (API, editor, page forms), never a 500, and nothing stored; webhooks keep theirs."""

import io
import json
from typing import Any

import pytest
from django.conf import settings

from executions.models import Execution
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.core.errors import LinkflowError
from linkflow.core.json_body import MAX_JSON_DEPTH, BoundedJSONParser, json_depth, json_loads
from workflows.models import Workflow, WorkflowVersion
from workflows.services import workflow_create, workflow_update

from .conftest import signed_in_client

MB = 1024 * 1024
MANUAL = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}


def _big(**fields: Any) -> str:
    """A valid JSON object of ``fields`` padded past 3 MB."""
    return json.dumps({**fields, "padding": "a" * (3 * MB)})


def _deep(depth: int = 1000) -> str:
    return "[" * depth + "]" * depth


def _workflow(owner: User) -> Workflow:
    workspace = workspace_ensure_personal(user=owner)
    return workflow_create(user=owner, workspace=workspace, name="w", graph=MANUAL)


def _assert_too_large(response: Any) -> None:
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"max_bytes": settings.LINKFLOW_REQUEST_MAX_BYTES}


def _assert_too_deep(response: Any) -> None:
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "malformed_request"
    assert error["details"] == {"max_depth": MAX_JSON_DEPTH}


def test_the_limit_is_the_one_setting_and_django_follows_it():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.LINKFLOW_REQUEST_MAX_BYTES
    assert settings.LINKFLOW_REQUEST_MAX_BYTES < 3 * MB


def test_json_depth_counts_nesting_without_recursion():
    assert json_depth(1) == 0
    assert json_depth({"a": [1, {"b": []}]}) == 4
    assert json_depth(json.loads(_deep(500))) == 500  # no RecursionError on the walk


def test_json_loads_refuses_too_deep_but_takes_the_deepest_allowed():
    assert json_depth(json_loads(_deep(MAX_JSON_DEPTH))) == MAX_JSON_DEPTH
    for depth in (MAX_JSON_DEPTH + 1, 1000, 100_000):
        with pytest.raises(LinkflowError) as raised:
            json_loads(_deep(depth))
        assert raised.value.code == "malformed_request"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/workflows/", "/api/v1/workflows/import/"])
def test_api_create_and_import_refuse_big_and_deep_bodies_and_store_nothing(api, path):
    big = _big(name="x", graph=MANUAL)
    _assert_too_large(api.post(path, big, content_type="application/json"))
    deep = '{"name": "x", "graph": ' + _deep() + "}"
    _assert_too_deep(api.post(path, deep, content_type="application/json"))
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_api_update_refuses_a_deep_graph_and_keeps_the_version(api, owner):
    workflow = _workflow(owner)
    deep = '{"graph": {"nodes": ' + _deep() + "}}"
    response = api.patch(f"/api/v1/workflows/{workflow.pk}/", deep, content_type="application/json")
    _assert_too_deep(response)
    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 1


@pytest.mark.django_db
def test_api_execute_refuses_big_and_deep_input_and_creates_no_execution(api, owner):
    workflow = _workflow(owner)
    url = f"/api/v1/workflows/{workflow.pk}/execute/"
    _assert_too_large(api.post(url, _big(input={}), content_type="application/json"))
    deep = '{"input": {"a": ' + _deep() + "}}"
    _assert_too_deep(api.post(url, deep, content_type="application/json"))
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_expression_preview_refuses_big_and_deep_bodies(api):
    url = "/api/v1/expressions/preview/"
    _assert_too_large(api.post(url, _big(expression="{{ 1 }}"), content_type="application/json"))
    deep = '{"expression": "{{ 1 }}", "item": ' + _deep() + "}"
    _assert_too_deep(api.post(url, deep, content_type="application/json"))


@pytest.mark.django_db
def test_editor_save_refuses_big_and_deep_graphs_and_adds_no_version(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    url = f"/workflows/{workflow.pk}/edit/save/"
    _assert_too_large(client.post(url, _big(graph=MANUAL), content_type="application/json"))
    deep = '{"graph": {"nodes": ' + _deep() + "}}"
    _assert_too_deep(client.post(url, deep, content_type="application/json"))
    layout = f"/workflows/{workflow.pk}/edit/layout/"
    _assert_too_deep(client.post(layout, '{"positions": ' + _deep() + "}", "application/json"))
    assert WorkflowVersion.objects.filter(workflow=workflow).count() == 1
    workflow.refresh_from_db()
    assert workflow.layout == {}


@pytest.mark.django_db
def test_page_form_posts_refuse_big_bodies_before_any_form_reads_them(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    _assert_too_large(client.post(f"/workflows/{workflow.pk}/execute/", {"input": "a" * 3 * MB}))
    _assert_too_large(client.post("/workflows/import/", {"text": "a" * 3 * MB}))
    assert not Execution.objects.exists()
    assert Workflow.objects.count() == 1


@pytest.mark.django_db
def test_page_forms_give_a_field_error_for_deep_json_and_store_nothing(owner):
    workflow = _workflow(owner)
    client = signed_in_client(owner)
    run = client.post(f"/workflows/{workflow.pk}/execute/", {"input": '{"a": ' + _deep() + "}"})
    assert run.status_code == 400
    assert "nested more than" in run.context["form"].errors["input"][0]
    imported = client.post(
        "/workflows/import/", {"text": '{"name": "x", "graph": ' + _deep() + "}"}
    )
    assert imported.status_code == 400
    assert "nested more than" in imported.content.decode()
    assert not Execution.objects.exists()
    assert Workflow.objects.count() == 1


@pytest.mark.django_db
def test_a_webhook_keeps_its_own_larger_limit(owner, client):
    workspace = workspace_ensure_personal(user=owner)
    graph = {"nodes": [{"id": "hook", "type": "trigger.webhook", "params": {}}], "edges": []}
    workflow = workflow_create(user=owner, workspace=workspace, name="hook", graph=graph)
    workflow_update(user=owner, workflow=workflow, changes={"active": True})
    token = workflow.webhook_triggers.get().token
    response = client.post(f"/webhooks/{token}", _big(), content_type="application/json")
    assert response.status_code == 202  # past the request limit, inside the webhook's
    assert Execution.objects.filter(workflow=workflow).count() == 1


@pytest.mark.django_db
def test_a_webhook_refuses_deep_json_with_400_and_starts_nothing(owner, client):
    workspace = workspace_ensure_personal(user=owner)
    graph = {"nodes": [{"id": "hook", "type": "trigger.webhook", "params": {}}], "edges": []}
    workflow = workflow_create(user=owner, workspace=workspace, name="hook", graph=graph)
    workflow_update(user=owner, workflow=workflow, changes={"active": True})
    token = workflow.webhook_triggers.get().token
    for depth in (MAX_JSON_DEPTH + 1, 900, 1000):  # 900 parses, but is past the bound
        response = client.post(f"/webhooks/{token}", _deep(depth), content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "malformed_request"
    assert not Execution.objects.exists()


def test_the_api_parser_caps_what_it_reads_whatever_length_was_declared():
    body = _big(name="x").encode()
    with pytest.raises(LinkflowError) as raised:
        BoundedJSONParser().parse(io.BytesIO(body))
    assert raised.value.status_code == 413
    assert BoundedJSONParser().parse(io.BytesIO(b'{"a": [1]}')) == {"a": [1]}
