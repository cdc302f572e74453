"""API keys: minted by admins, shown once, stored hashed, confined to a workspace and scopes."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from executions.models import Execution
from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.models import ApiKey, Membership, Role, User, Workspace
from linkflow.accounts.scoping import SCOPES
from linkflow.accounts.services import membership_add, workspace_ensure_personal
from workflows.models import Workflow
from workflows.services import workflow_create

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

GRAPH = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}
KEY_FORMAT = re.compile(r"^lf_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")


def _key_client(raw_key: str, *, header: str = "authorization") -> APIClient:
    client = APIClient()
    if header == "authorization":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    else:
        client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def _mint(user: User, scopes=tuple(SCOPES), workspace: Workspace | None = None, **extra):
    workspace = workspace or workspace_ensure_personal(user=user)
    return api_key_create(user=user, workspace=workspace, name="ci", scopes=scopes, **extra)


def _ids(response) -> list[str]:
    body = response.json()
    items = body["results"] if isinstance(body, dict) else body  # paged or not
    return [item["id"] for item in items]


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


# --- Minting and managing -------------------------------------------------------------


def test_an_owner_mints_a_key_that_is_shown_once_and_stored_hashed(api, owner):
    workspace = workspace_ensure_personal(user=owner)

    response = api.post(
        f"/api/v1/workspaces/{workspace.pk}/api-keys/",
        {"name": "deploy bot", "scopes": ["workflows:read", "executions:write"]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert KEY_FORMAT.match(body["key"])
    assert body["key"].startswith(body["prefix"] + "_")
    assert body["scopes"] == ["executions:write", "workflows:read"]
    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.secret_hash == hashlib.sha256(body["key"].encode()).hexdigest()
    assert stored.workspace_id == workspace.pk and stored.created_by_id == owner.pk
    listed = api.get(f"/api/v1/workspaces/{workspace.pk}/api-keys/")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [body["id"]]
    assert body["key"] not in listed.content.decode()
    assert "key" not in listed.json()[0] and "secret_hash" not in listed.json()[0]


def test_an_unknown_scope_is_refused_naming_the_field(api, owner):
    workspace = workspace_ensure_personal(user=owner)

    response = api.post(
        f"/api/v1/workspaces/{workspace.pk}/api-keys/",
        {"name": "x", "scopes": ["everything"]},
        format="json",
    )

    _assert_error(response, 400, "validation_error")
    assert list(response.json()["error"]["details"]) == ["scopes"]
    assert ApiKey.objects.count() == 0


def test_an_expiry_in_the_past_is_refused(api, owner):
    workspace = workspace_ensure_personal(user=owner)

    response = api.post(
        f"/api/v1/workspaces/{workspace.pk}/api-keys/",
        {"name": "x", "scopes": ["workflows:read"], "expires_at": "2000-01-01T00:00:00Z"},
        format="json",
    )

    _assert_error(response, 400, "validation_error")
    assert list(response.json()["error"]["details"]) == ["expires_at"]
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize(
    ("role", "status", "code"),
    [("editor", 403, "permission_denied"), ("viewer", 403, "permission_denied")],
)
def test_editors_and_viewers_cannot_mint_or_list_keys(client_for, owner, role, status, code):
    workspace = workspace_ensure_personal(user=owner)
    member = UserFactory.create()
    membership_add(workspace=workspace, user=member, role=Role(role))
    api = client_for(member)

    minted = api.post(
        f"/api/v1/workspaces/{workspace.pk}/api-keys/",
        {"name": "x", "scopes": ["workflows:read"]},
        format="json",
    )
    listed = api.get(f"/api/v1/workspaces/{workspace.pk}/api-keys/")

    _assert_error(minted, status, code)
    _assert_error(listed, status, code)
    assert ApiKey.objects.count() == 0


def test_an_admin_mints_keys_and_an_outsider_gets_404(client_for, owner, outsider):
    workspace = workspace_ensure_personal(user=owner)
    admin = UserFactory.create()
    membership_add(workspace=workspace, user=admin, role=Role.ADMIN)
    body = {"name": "x", "scopes": ["workflows:read"]}
    url = f"/api/v1/workspaces/{workspace.pk}/api-keys/"

    assert client_for(admin).post(url, body, format="json").status_code == 201
    _assert_error(client_for(outsider).post(url, body, format="json"), 404, "not_found")
    assert ApiKey.objects.count() == 1


def test_an_api_key_cannot_mint_list_or_revoke_keys(owner):
    key, raw_key = _mint(owner)
    url = f"/api/v1/workspaces/{key.workspace_id}/api-keys/"
    client = _key_client(raw_key)

    minted = client.post(url, {"name": "child", "scopes": ["workflows:read"]}, format="json")
    listed = client.get(url)
    revoked = client.delete(f"{url}{key.pk}/")

    for response in (minted, listed, revoked):
        _assert_error(response, 403, "permission_denied")
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get().revoked_at is None


def test_revoking_a_key_refuses_it_from_then_on(api, owner):
    key, raw_key = _mint(owner)
    assert _key_client(raw_key).get("/api/v1/workflows/").status_code == 200

    response = api.delete(f"/api/v1/workspaces/{key.workspace_id}/api-keys/{key.pk}/")

    assert response.status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None
    _assert_error(_key_client(raw_key).get("/api/v1/workflows/"), 401, "authentication_failed")


# --- Authenticating -------------------------------------------------------------------


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_a_key_authenticates_in_either_header(owner, header):
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(user=owner, workspace=workspace, name="w", graph=GRAPH)
    _, raw_key = _mint(owner)

    response = _key_client(raw_key, header=header).get("/api/v1/workflows/")

    assert response.status_code == 200
    assert _ids(response) == [str(workflow.pk)]


@pytest.mark.parametrize(
    "raw_key",
    ["", "lf_", "lf_abcdefgh", "lf_abcdefgh_", "xx_abcdefgh_secret", "lf_nope0000_secret"],
)
def test_malformed_and_unknown_keys_are_refused(db, raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    _assert_error(client.get("/api/v1/workflows/"), 401, "authentication_failed")


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_refused(owner):
    key, raw_key = _mint(owner)
    wrong = raw_key[:-4] + ("AAAA" if not raw_key.endswith("AAAA") else "BBBB")

    _assert_error(_key_client(wrong).get("/api/v1/workflows/"), 401, "authentication_failed")
    key.refresh_from_db()
    assert key.last_used_at is None


def test_an_expired_key_is_refused(owner):
    key, raw_key = _mint(owner)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    _assert_error(_key_client(raw_key).get("/api/v1/workflows/"), 401, "authentication_failed")


def test_a_key_dies_with_its_creators_membership_or_account(owner):
    _, raw_key = _mint(owner)
    client = _key_client(raw_key)
    User.objects.filter(pk=owner.pk).update(is_active=False)
    _assert_error(client.get("/api/v1/workflows/"), 401, "authentication_failed")

    User.objects.filter(pk=owner.pk).update(is_active=True)
    Membership.objects.filter(user=owner).delete()
    _assert_error(client.get("/api/v1/workflows/"), 401, "authentication_failed")


def test_last_used_is_written_at_most_once_a_minute(owner):
    key, raw_key = _mint(owner)
    client = _key_client(raw_key)

    client.get("/api/v1/workflows/")
    key.refresh_from_db()
    first = key.last_used_at
    client.get("/api/v1/workflows/")
    key.refresh_from_db()
    assert first is not None and key.last_used_at == first

    stale = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=stale)
    client.get("/api/v1/workflows/")
    key.refresh_from_db()
    assert key.last_used_at > stale + timedelta(minutes=1)


# --- Scopes ---------------------------------------------------------------------------


def test_a_key_without_the_write_scope_cannot_create_workflows(owner):
    _, raw_key = _mint(owner, scopes=["workflows:read"])

    response = _key_client(raw_key).post(
        "/api/v1/workflows/", {"name": "w", "graph": GRAPH}, format="json"
    )

    _assert_error(response, 403, "permission_denied")
    assert Workflow.objects.count() == 0


def test_a_key_without_the_read_scope_cannot_list(owner):
    _, raw_key = _mint(owner, scopes=["workflows:write"])

    _assert_error(_key_client(raw_key).get("/api/v1/workflows/"), 403, "permission_denied")
    _assert_error(_key_client(raw_key).get("/api/v1/executions/"), 403, "permission_denied")


def test_running_a_workflow_takes_the_executions_write_scope(owner):
    workflow = workflow_create(
        user=owner, workspace=workspace_ensure_personal(user=owner), name="w", graph=GRAPH
    )
    _, workflows_only = _mint(owner, scopes=["workflows:read", "workflows:write"])
    _, may_run = _mint(owner, scopes=["executions:write"])
    url = f"/api/v1/workflows/{workflow.pk}/execute"

    refused = _key_client(workflows_only).post(url, {"input": {}}, format="json")
    accepted = _key_client(may_run).post(url, {"input": {}}, format="json")

    _assert_error(refused, 403, "permission_denied")
    assert accepted.status_code == 202, accepted.json()
    assert Execution.objects.count() == 1


def test_a_key_with_the_write_scope_creates_in_its_own_workspace(owner):
    shared = Workspace.objects.create(name="team")
    membership_add(workspace=shared, user=owner, role=Role.ADMIN)
    _, raw_key = _mint(owner, scopes=["workflows:write"], workspace=shared)

    response = _key_client(raw_key).post(
        "/api/v1/workflows/", {"name": "w", "graph": GRAPH}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert Workflow.objects.get().workspace_id == shared.pk


# --- Confinement to the key's workspace -----------------------------------------------


def test_a_key_sees_and_touches_only_its_own_workspace(owner):
    personal = workspace_ensure_personal(user=owner)
    other = Workspace.objects.create(name="other team")
    membership_add(workspace=other, user=owner, role=Role.OWNER)
    mine = workflow_create(user=owner, workspace=personal, name="mine", graph=GRAPH)
    theirs = workflow_create(user=owner, workspace=other, name="theirs", graph=GRAPH)
    _, raw_key = _mint(owner, workspace=personal)
    client = _key_client(raw_key)

    listed = client.get("/api/v1/workflows/")
    read = client.get(f"/api/v1/workflows/{theirs.pk}/")
    deleted = client.delete(f"/api/v1/workflows/{theirs.pk}/")
    created = client.post(
        "/api/v1/workflows/",
        {"name": "sneaky", "graph": GRAPH, "workspace": str(other.pk)},
        format="json",
    )

    assert str(theirs.pk) not in listed.content.decode()
    assert str(mine.pk) in listed.content.decode()
    _assert_error(read, 404, "not_found")
    _assert_error(deleted, 404, "not_found")
    _assert_error(created, 404, "not_found")
    assert set(Workflow.objects.values_list("name", flat=True)) == {"mine", "theirs"}


def test_a_key_acts_with_its_creators_current_role(owner):
    shared = Workspace.objects.create(name="team")
    membership_add(workspace=shared, user=owner, role=Role.ADMIN)
    workflow = workflow_create(user=owner, workspace=shared, name="w", graph=GRAPH)
    _, raw_key = _mint(owner, workspace=shared)
    membership_add(workspace=shared, user=owner, role=Role.VIEWER)

    response = _key_client(raw_key).delete(f"/api/v1/workflows/{workflow.pk}/")

    _assert_error(response, 403, "permission_denied")
    assert Workflow.objects.filter(pk=workflow.pk).exists()


def test_a_key_with_workspaces_write_cannot_create_a_workspace_outside_its_own(owner):
    _, raw_key = _mint(owner, scopes=["workspaces:write", "workspaces:read"])
    before = set(Workspace.objects.values_list("pk", flat=True))

    response = _key_client(raw_key).post("/api/v1/workspaces/", {"name": "Shadow"}, format="json")

    _assert_error(response, 403, "api_key_confined")
    assert set(Workspace.objects.values_list("pk", flat=True)) == before
    assert not Membership.objects.filter(user=owner, workspace__name="Shadow").exists()


def test_a_signed_in_person_still_creates_workspaces(api, owner):
    response = api.post("/api/v1/workspaces/", {"name": "Team"}, format="json")

    assert response.status_code == 201, response.content
    assert Membership.objects.filter(
        user=owner, workspace_id=response.json()["id"], role=Role.OWNER
    ).exists()
