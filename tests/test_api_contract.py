"""Each conformance failure schemathesis found, replayed: the API now does what its schema
says, and the schema says what the API does (docs/security/api-contract.md)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from linkflow.accounts.models import Membership, User, Workspace
from linkflow.accounts.services import workspace_create, workspace_ensure_personal
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

GRAPH = {
    "nodes": [{"id": "start", "type": "trigger.manual", "params": {}}],
    "edges": [],
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "schema.yml"
    call_command("spectacular", "--file", str(path))
    return yaml.safe_load(Path(path).read_text())


def _request_body(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    content = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
    name = content["schema"]["$ref"].rsplit("/", 1)[1]
    return schema["components"]["schemas"][name]


def _parameter(schema: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    parameters = schema["paths"][path][method]["parameters"]
    return next(p for p in parameters if p["name"] == name)["schema"]


def _fields(response: Any) -> set[str]:
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return set(error["details"])


@pytest.mark.parametrize("name", [0, 1.5, True, ["Ops"], {"a": 1}])
def test_a_name_that_is_not_a_string_is_refused_not_coerced(api: APIClient, name: Any) -> None:
    response = api.post("/api/v1/workspaces/", {"name": name}, format="json")

    assert response.status_code == 400
    assert _fields(response) == {"name"}
    assert not Workspace.objects.filter(name=str(name)).exists()


def test_a_number_for_a_boolean_or_a_uuid_is_refused(api: APIClient, owner: User) -> None:
    active = api.post(
        "/api/v1/workflows/", {"name": "w", "graph": GRAPH, "active": 1}, format="json"
    )
    workspace = api.post(
        "/api/v1/workflows/", {"name": "w", "graph": GRAPH, "workspace": 0}, format="json"
    )

    assert (active.status_code, _fields(active)) == (400, {"active"})
    assert (workspace.status_code, _fields(workspace)) == (400, {"workspace"})
    assert not Workflow.objects.exists()


def test_a_graph_that_is_not_an_object_is_refused_and_the_schema_says_object(
    api: APIClient, schema: dict[str, Any]
) -> None:
    response = api.post("/api/v1/workflows/", {"name": "w", "graph": None}, format="json")

    assert (response.status_code, _fields(response)) == (400, {"graph"})
    graph = _request_body(schema, "/api/v1/workflows/", "post")["properties"]["graph"]
    assert graph["type"] == "object"
    assert "nullable" not in graph
    data = _request_body(schema, "/api/v1/credentials/", "post")["properties"]["data"]
    assert data["type"] == "object"


def test_an_empty_patch_changes_nothing_and_answers_the_workspace(
    api: APIClient, owner: User
) -> None:
    workspace = workspace_create(user=owner, name="Team")

    response = api.patch(f"/api/v1/workspaces/{workspace.pk}/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Team"
    workspace.refresh_from_db()
    assert workspace.name == "Team"


def test_an_empty_patch_of_a_member_keeps_the_role(api: APIClient, owner: User) -> None:
    workspace = workspace_create(user=owner, name="Team")

    response = api.patch(
        f"/api/v1/workspaces/{workspace.pk}/members/{owner.pk}/", {}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "owner"
    assert Membership.objects.get(workspace=workspace, user=owner).role == "owner"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/executions/?workflow=", "workflow"),
        ("/api/v1/executions/?workflow=not-a-uuid", "workflow"),
        ("/api/v1/executions/?status=", "status"),
        ("/api/v1/dead-letters/?status=", "status"),
        ("/api/v1/workflows/?active=yes", "active"),
        ("/api/v1/executions/?page_size=null", "page_size"),
        ("/api/v1/executions/?page_size=0", "page_size"),
        ("/api/v1/executions/?page_size=201", "page_size"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api: APIClient, url: str, field: str) -> None:
    response = api.get(url)

    assert response.status_code == 400
    assert _fields(response) == {field}


def test_the_page_size_bounds_are_in_the_schema(schema: dict[str, Any]) -> None:
    page_size = _parameter(schema, "/api/v1/executions/", "get", "page_size")

    assert (page_size["minimum"], page_size["maximum"]) == (1, 200)


def test_the_schema_refuses_nul_and_blank_text_as_the_api_does(
    api: APIClient, schema: dict[str, Any]
) -> None:
    name = _request_body(schema, "/api/v1/workspaces/", "post")["properties"]["name"]
    search = _parameter(schema, "/api/v1/workflows/", "get", "search")
    description = _request_body(schema, "/api/v1/workflows/", "post")["properties"]["description"]
    pattern = re.compile(name["pattern"])

    for text in ("a\x00", "   "):
        assert pattern.search(text) is None
        assert api.post("/api/v1/workspaces/", {"name": text}, format="json").status_code == 400
    assert pattern.search(" Ops ") is not None
    assert search["pattern"] == name["pattern"]
    # Blank is allowed there: drf-spectacular offers it as the other alternative.
    text, blank = description["oneOf"]
    assert re.compile(text["pattern"]).search("a\x00") is None
    assert blank == {"type": "string", "maxLength": 0}


def test_empty_scopes_are_refused_and_the_schema_asks_for_one(
    api: APIClient, owner: User, schema: dict[str, Any]
) -> None:
    workspace = workspace_ensure_personal(user=owner)

    response = api.post(
        f"/api/v1/workspaces/{workspace.pk}/api-keys/", {"name": "k", "scopes": []}, format="json"
    )

    assert (response.status_code, _fields(response)) == (400, {"scopes"})
    body = _request_body(schema, "/api/v1/workspaces/{workspace_id}/api-keys/", "post")
    assert body["properties"]["scopes"]["minItems"] == 1


@pytest.mark.parametrize("key", ["", " ", " key", "clé", "k" * 201])
def test_an_idempotency_key_outside_its_documented_form_is_refused(
    api: APIClient, owner: User, schema: dict[str, Any], key: str
) -> None:
    workspace = workspace_ensure_personal(user=owner)
    created = api.post(
        "/api/v1/workflows/",
        {"name": "w", "graph": GRAPH, "workspace": str(workspace.pk)},
        format="json",
    ).json()
    documented = _parameter(schema, "/api/v1/workflows/{id}/execute/", "post", "Idempotency-Key")

    response = api.post(
        f"/api/v1/workflows/{created['id']}/execute/",
        {},
        format="json",
        headers={"Idempotency-Key": key},
    )

    assert response.status_code == 400
    assert _fields(response) == {"Idempotency-Key"}
    assert re.search(documented["pattern"], key) is None
    assert (documented["minLength"], documented["maxLength"]) == (1, 200)


def test_the_409s_of_deletes_are_documented(schema: dict[str, Any]) -> None:
    for path in (
        "/api/v1/workspaces/{id}/",
        "/api/v1/workspaces/{workspace_id}/members/{user_id}/",
    ):
        assert "409" in schema["paths"][path]["delete"]["responses"], path


def test_the_oauth2_callback_documents_its_state_and_requires_it(
    schema: dict[str, Any],
) -> None:
    parameters = schema["paths"]["/api/v1/credentials/oauth2/callback"]["get"]["parameters"]
    state = next(p for p in parameters if p["name"] == "state")

    response = APIClient().get("/api/v1/credentials/oauth2/callback")

    assert state["required"] is True
    assert (response.status_code, _fields(response)) == (400, {"state"})
