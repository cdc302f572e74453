"""What a graph refers to is checked before it can run: credentials (present, of a type the
node takes, of this workspace) on save, and the credentials a node needs on activation and
execution. Another workspace's id answers exactly like a missing one."""

import uuid
from typing import Any

import pytest

from credentials.models import Credential
from credentials.services import credential_create
from credentials.types import SCHEMAS
from executions.models import Execution
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.engine import node_types
from linkflow.engine.references import Reference, graph_references
from workflows.models import Workflow, WorkflowVersion
from workflows.references import references_problems
from workflows.services import workflow_create

from ..conftest import signed_in_client

# Fields that make a valid credential of each type, for the type-mismatch sweep below.
_FIELDS: dict[str, dict[str, Any]] = {
    "http_basic": {"username": "u", "password": "p"},
    "http_bearer": {"token": "t"},
    "http_header": {"name": "X-Key", "value": "v"},
    "oauth2_client": {
        "client_id": "c",
        "authorize_url": "https://id.example/a",
        "token_url": "https://id.example/t",
    },
    "smtp": {"host": "mail.example", "port": 25},
    "slack": {"token": "xoxb"},
    "webhook_auth": {"token": "t"},
    "postgres": {"host": "db.example", "database": "d"},
    "mysql": {"host": "db.example", "database": "d"},
    "redis": {"host": "r.example"},
    "amqp": {"host": "q.example"},
    "mqtt": {"host": "m.example"},
    "nats": {"host": "n.example"},
    "s3": {"access_key_id": "a", "secret_access_key": "s"},
    "hmac_key": {"key": "k"},
}


def _credential(user: User, type: str, name: str | None = None) -> Credential:
    workspace = workspace_ensure_personal(user=user)
    return credential_create(
        workspace=workspace, name=name or f"{type} one", type=type, data=_FIELDS[type]
    )


def _graph(*nodes: dict[str, Any]) -> dict[str, Any]:
    start = {"id": "start", "type": "trigger.manual"}
    edges = [{"source": "start", "target": node["id"]} for node in nodes]
    return {"nodes": [start, *nodes], "edges": edges}


def _http(credential: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": "call", "type": "http.request"}
    node["params"] = {"method": "GET", "url": "https://api.example/x"}
    if credential is not None:
        node["credential"] = str(credential)
    return node


def _email(**extra: Any) -> dict[str, Any]:
    params = {"to": "a@example.com", "subject": "s", "text": "t"}
    return {"id": "mail", "type": "notify.email", "params": params, **extra}


def _problems(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "workflow_graph_invalid"
    return error["details"]["problems"]


def _create(api: Any, graph: dict[str, Any]) -> Any:
    return api.post("/api/v1/workflows/", {"name": "w", "graph": graph}, format="json")


# --- the engine finds the references, from the registry ---------------------------------------
def test_graph_references_come_from_the_node_types_and_their_params():
    graph = _graph(
        _http(),
        {"id": "hook", "type": "trigger.webhook", "params": {"auth": "hmac"}},
        {"id": "open", "type": "trigger.webhook", "params": {}},
        {"id": "hash", "type": "data.crypto", "params": {"operation": "hash"}},
        {"id": "sign", "type": "data.crypto", "params": {"operation": "hmac"}},
        _email(disabled=True),
        {"id": "sub", "type": "workflow.execute", "params": {"workflow": " abc "}},
        {"id": "dyn", "type": "workflow.execute", "params": {"workflow": "{{ json.id }}"}},
        {"id": "set", "type": "data.set", "params": {"fields": {"a": 1}}},
    )
    http = ("http_basic", "http_bearer", "http_header", "oauth2_client")
    keys = ("hmac_key", "webhook_auth")
    assert graph_references(graph) == [
        Reference("call", "credential", "credential", None, http, needed=False),
        Reference("hook", "credential", "credential", None, ("webhook_auth",), needed=True),
        Reference("open", "credential", "credential", None, ("webhook_auth",), needed=False),
        Reference("hash", "credential", "credential", None, keys, needed=False),
        Reference("sign", "credential", "credential", None, keys, needed=True),
        Reference("mail", "credential", "credential", None, ("smtp",), needed=False),
        Reference("sub", "params.workflow", "workflow", "abc"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "node_type", [t for t in node_types() if t.credential_types], ids=lambda t: t.type
)
def test_every_node_type_that_takes_a_credential_refuses_a_wrong_type_and_a_missing_one(
    owner, node_type
):
    wrong = next(t for t in SCHEMAS if t not in node_type.credential_types)
    node = {"id": "n", "type": node_type.type, "credential": str(_credential(owner, wrong).pk)}
    workspace_id = workspace_ensure_personal(user=owner).pk

    problems = references_problems(workspace_id=workspace_id, graph=_graph(node), ready=False)
    assert [(p.code, p.node_id, p.field) for p in problems] == [
        ("credential_type_mismatch", "n", "credential")
    ]
    right = _credential(owner, node_type.credential_types[0], name="right")
    node["credential"] = str(right.pk)
    assert references_problems(workspace_id=workspace_id, graph=_graph(node), ready=True) == []
    del node["credential"]
    missing = references_problems(workspace_id=workspace_id, graph=_graph(node), ready=True)
    needed = node_type.credential_needed({}, node_type.version)
    assert [p.code for p in missing] == (["credential_missing"] if needed else [])


# --- on save: what is present ---------------------------------------------------------------
@pytest.mark.django_db
def test_another_workspaces_credential_answers_exactly_like_a_missing_one(api, owner, outsider):
    theirs = _credential(outsider, "http_bearer")

    stolen = _create(api, _graph(_http(theirs.pk)))
    invented = _create(api, _graph(_http(uuid.uuid4())))
    garbage = _create(api, _graph(_http("not-a-uuid")))

    assert stolen.json() == invented.json() == garbage.json()
    assert _problems(stolen) == [
        {
            "code": "credential_not_found",
            "message": "No credential with this id here.",
            "node_id": "call",
            "field": "credential",
        }
    ]
    assert not Workflow.objects.filter(workspace__members=owner).exists()


@pytest.mark.django_db
def test_a_credential_of_the_wrong_type_is_refused_on_save_naming_node_and_field(api, owner):
    smtp = _credential(owner, "smtp")
    problems = _problems(_create(api, _graph(_http(smtp.pk))))
    assert [(p["code"], p["node_id"], p["field"]) for p in problems] == [
        ("credential_type_mismatch", "call", "credential")
    ]
    assert "http_bearer" in problems[0]["message"]
    bearer = _credential(owner, "http_bearer")
    assert _create(api, _graph(_http(bearer.pk))).status_code == 201


@pytest.mark.django_db
def test_a_sub_workflow_of_another_workspace_answers_exactly_like_a_missing_one(
    api, owner, outsider
):
    theirs = workflow_create(
        user=outsider,
        workspace=workspace_ensure_personal(user=outsider),
        name="theirs",
        graph=_graph(),
    )
    ours = workflow_create(
        user=owner, workspace=workspace_ensure_personal(user=owner), name="ours", graph=_graph()
    )

    def call(target: Any) -> Any:
        node = {"id": "sub", "type": "workflow.execute", "params": {"workflow": str(target)}}
        return _create(api, _graph(node))

    stolen, invented = call(theirs.pk), call(uuid.uuid4())
    assert stolen.json() == invented.json()
    assert [(p["code"], p["node_id"], p["field"]) for p in _problems(stolen)] == [
        ("workflow_not_found", "sub", "params.workflow")
    ]
    assert call(ours.pk).status_code == 201
    assert Workflow.objects.filter(workspace__members=owner).count() == 2


@pytest.mark.django_db
def test_a_draft_without_its_credentials_saves_but_cannot_be_activated(api, owner):
    hook = {"id": "hook", "type": "trigger.webhook", "params": {"auth": "hmac"}}
    graph = {"nodes": [hook], "edges": []}
    created = _create(api, graph)
    assert created.status_code == 201
    url = f"/api/v1/workflows/{created.json()['id']}/"

    problems = _problems(api.patch(url, {"active": True}, format="json"))

    assert [(p["code"], p["node_id"], p["field"]) for p in problems] == [
        ("credential_missing", "hook", "credential")
    ]
    workflow = Workflow.objects.get(pk=created.json()["id"])
    assert workflow.active is False
    hook["credential"] = str(_credential(owner, "webhook_auth").pk)
    assert api.patch(url, {"graph": graph, "active": True}, format="json").status_code == 200
    workflow.refresh_from_db()
    assert workflow.active is True


@pytest.mark.django_db
def test_an_active_workflow_cannot_be_saved_without_a_credential_it_needs(api, owner):
    credential = _credential(owner, "webhook_auth")
    hook = {"id": "hook", "type": "trigger.webhook", "params": {"auth": "header"}}
    hook["credential"] = str(credential.pk)
    created = _create(api, {"nodes": [hook], "edges": []})
    url = f"/api/v1/workflows/{created.json()['id']}/"
    assert api.patch(url, {"active": True}, format="json").status_code == 200

    del hook["credential"]
    problems = _problems(api.patch(url, {"graph": {"nodes": [hook], "edges": []}}, format="json"))

    assert [p["code"] for p in problems] == ["credential_missing"]
    assert WorkflowVersion.objects.filter(workflow_id=created.json()["id"]).count() == 1


@pytest.mark.django_db
def test_activation_rechecks_a_credential_deleted_since_the_save(api, owner):
    credential = _credential(owner, "http_bearer")
    created = _create(api, _graph(_http(credential.pk)))
    credential.delete()

    response = api.patch(f"/api/v1/workflows/{created.json()['id']}/", {"active": True}, "json")

    assert [p["code"] for p in _problems(response)] == ["credential_not_found"]
    assert Workflow.objects.get(pk=created.json()["id"]).active is False


# --- on execute: what is required -----------------------------------------------------------
@pytest.mark.django_db
def test_execute_refuses_an_email_node_without_its_credential_and_runs_nothing(api, owner):
    created = _create(api, _graph(_email()))
    assert created.status_code == 201
    url = f"/api/v1/workflows/{created.json()['id']}/execute/"

    problems = _problems(api.post(url, {"input": {}}, format="json"))

    assert [(p["code"], p["node_id"], p["field"]) for p in problems] == [
        ("credential_missing", "mail", "credential")
    ]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_a_disabled_node_needs_no_credential_to_run(api, owner):
    created = _create(api, _graph(_email(disabled=True)))
    url = f"/api/v1/workflows/{created.json()['id']}/execute/"
    assert api.post(url, {"input": {}}, format="json").status_code == 202
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_the_activation_page_says_which_node_lacks_its_credential(owner):
    hook = {"id": "hook", "type": "trigger.webhook", "params": {"auth": "header"}}
    workflow = workflow_create(
        user=owner,
        workspace=workspace_ensure_personal(user=owner),
        name="w",
        graph={"nodes": [hook], "edges": []},
    )

    response = signed_in_client(owner).post(
        f"/workflows/{workflow.pk}/active/", {"active": "true"}, follow=True
    )

    assert "node &#x27;hook&#x27;, credential: This node needs a webhook_auth credential" in (
        response.content.decode()
    )
    workflow.refresh_from_db()
    assert workflow.active is False


@pytest.mark.django_db
def test_a_test_run_of_an_unsaved_graph_refuses_another_workspaces_credential(api, owner, outsider):
    workflow = workflow_create(
        user=owner, workspace=workspace_ensure_personal(user=owner), name="w", graph=_graph()
    )
    theirs = _credential(outsider, "http_bearer")
    url = f"/api/v1/workflows/{workflow.pk}/test"

    response = api.post(url, {"graph": _graph(_http(theirs.pk))}, format="json")

    assert [p["code"] for p in _problems(response)] == ["credential_not_found"]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_an_import_drops_credentials_that_are_not_this_workspaces_and_saves_a_draft(
    api, owner, outsider
):
    theirs = _credential(outsider, "http_bearer")
    ours = _credential(owner, "smtp")
    graph = _graph(_http(theirs.pk), _email(credential=str(ours.pk)))
    document = {"format": "linkflow.workflow", "name": "copied", "graph": graph}

    response = api.post("/api/v1/workflows/import/", {"document": document}, format="json")

    assert response.status_code == 201, response.content
    created = Workflow.objects.get(pk=response.json()["workflow"]["id"])
    nodes = created.current_version.graph["nodes"]
    by_id = {node["id"]: node for node in nodes}
    assert "credential" not in by_id["call"]
    assert by_id["mail"]["credential"] == str(ours.pk)
