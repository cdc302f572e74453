"""The audit log: what is recorded, and who may read it."""

import json

import pytest

from credentials.services import credential_create, credential_resolver
from linkflow.accounts.models import Role
from linkflow.accounts.services import membership_add, workspace_create, workspace_ensure_personal
from linkflow.audit.models import AuditEvent

from .executing import chain, create_workflow
from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "audit-secret-token-1"


def events(**filters):
    return list(
        AuditEvent.objects.filter(**filters)
        .order_by("created_at", "id")
        .values_list("action", "actor__email", "target_type")
    )


def test_a_jwt_sign_in_is_recorded_with_the_address(client, owner):
    response = client.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="10.1.2.3",
    )
    failed = client.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": "wrong"},
        content_type="application/json",
    )

    assert (response.status_code, failed.status_code) == (200, 401)
    event = AuditEvent.objects.get(action="user.sign_in")
    assert (event.actor, event.workspace, event.ip, event.data) == (
        owner,
        None,
        "10.1.2.3",
        {"method": "jwt"},
    )


def test_a_session_sign_in_is_recorded(client, owner):
    assert client.login(email=owner.email, password=PASSWORD)

    assert events(action="user.sign_in") == [("user.sign_in", owner.email, "user")]
    assert AuditEvent.objects.get(action="user.sign_in").data == {"method": "session"}


def test_credential_changes_are_recorded_without_their_values(api, owner):
    workspace = workspace_ensure_personal(user=owner)
    created = api.post(
        "/api/v1/credentials/",
        {"name": "b", "type": "http_bearer", "data": {"token": TOKEN}},
        format="json",
    ).json()
    api.patch(f"/api/v1/credentials/{created['id']}/", {"data": {"token": "other-token-2"}}, "json")
    api.delete(f"/api/v1/credentials/{created['id']}/")

    logged = AuditEvent.objects.filter(workspace=workspace, target_id=created["id"])
    assert events(workspace=workspace, target_id=created["id"]) == [
        ("credential.create", owner.email, "credential"),
        ("credential.update", owner.email, "credential"),
        ("credential.delete", owner.email, "credential"),
    ]
    assert logged.get(action="credential.update").data == {
        "name": "b",
        "type": "http_bearer",
        "changed": ["token"],
        "renamed": False,
    }
    dumped = json.dumps(list(logged.values("data")))
    assert TOKEN not in dumped and "other-token-2" not in dumped


def test_a_credential_use_is_recorded_once_per_execution(owner):
    workspace = workspace_ensure_personal(user=owner)
    credential = credential_create(
        workspace=workspace, name="b", type="http_bearer", data={"token": TOKEN}
    )

    first = credential_resolver(workspace_id=workspace.pk, execution_id="exec-1")
    first(str(credential.pk))
    first(str(credential.pk))
    # A resumed execution gets a new resolver.
    credential_resolver(workspace_id=workspace.pk, execution_id="exec-1")(str(credential.pk))
    credential_resolver(workspace_id=workspace.pk, execution_id="exec-2")(str(credential.pk))
    credential_resolver(workspace_id=workspace.pk)(str(credential.pk))  # a webhook check

    uses = AuditEvent.objects.filter(action="credential.use", target_id=str(credential.pk))
    assert sorted(e.data["execution_id"] for e in uses) == ["exec-1", "exec-2"]
    assert {(e.actor, e.workspace_id) for e in uses} == {(None, workspace.pk)}


def test_member_changes_are_recorded(api, owner):
    workspace = workspace_create(user=owner, name="Team")
    member = UserFactory.create()
    url = f"/api/v1/workspaces/{workspace.pk}/members/"

    api.post(url, {"email": member.email, "role": "viewer"}, format="json")
    api.patch(f"{url}{member.pk}/", {"role": "admin"}, format="json")
    api.delete(f"{url}{member.pk}/")

    assert events(workspace=workspace) == [
        ("workspace.create", owner.email, "workspace"),
        ("member.add", owner.email, "user"),
        ("member.role_change", owner.email, "user"),
        ("member.remove", owner.email, "user"),
    ]
    change = AuditEvent.objects.get(action="member.role_change")
    assert change.data == {"email": member.email, "from": "viewer", "to": "admin"}
    assert change.target_id == str(member.pk)


def test_workflow_activation_and_deactivation_are_recorded(api, owner):
    workflow_id = create_workflow(api, chain())

    api.patch(f"/api/v1/workflows/{workflow_id}/", {"active": True}, format="json")
    api.patch(f"/api/v1/workflows/{workflow_id}/", {"active": True}, format="json")
    api.patch(f"/api/v1/workflows/{workflow_id}/", {"name": "renamed"}, format="json")
    api.patch(f"/api/v1/workflows/{workflow_id}/", {"active": False}, format="json")

    assert events(target_id=workflow_id) == [
        ("workflow.activate", owner.email, "workflow"),
        ("workflow.deactivate", owner.email, "workflow"),
    ]


@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("editor", 403), ("admin", 200), ("owner", 200)]
)
def test_admins_and_owners_read_the_workspace_audit_log(client_for, owner, role, status):
    workspace = workspace_create(user=owner, name="Team")
    reader = owner
    if role != "owner":
        reader = UserFactory.create()
        membership_add(workspace=workspace, user=reader, role=Role(role))

    response = client_for(reader).get(f"/api/v1/workspaces/{workspace.pk}/audit/")

    assert response.status_code == status
    if status == 200:
        assert [e["action"] for e in response.json()["results"]] == ["workspace.create"]
        assert response.json()["results"][0]["actor_email"] == owner.email


def test_another_workspaces_audit_log_answers_404(client_for, owner, outsider):
    workspace = workspace_create(user=owner, name="Team")

    response = client_for(outsider).get(f"/api/v1/workspaces/{workspace.pk}/audit/")

    assert response.status_code == 404
