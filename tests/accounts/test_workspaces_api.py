"""Workspaces and their members over the API: who may do what, and the last-owner rule."""

import pytest

from linkflow.accounts.models import Membership, Role, Workspace
from linkflow.accounts.services import membership_add, workspace_create, workspace_ensure_personal

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(owner):
    """A shared workspace owned by ``owner``, with one member of each other role."""
    workspace = workspace_create(user=owner, name="Team")
    people = {"owner": owner}
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        people[role.value] = UserFactory.create()
        membership_add(workspace=workspace, user=people[role.value], role=role)
    return workspace, people


def roles_of(workspace):
    return dict(Membership.objects.filter(workspace=workspace).values_list("user__email", "role"))


def members_url(workspace, user=None):
    url = f"/api/v1/workspaces/{workspace.pk}/members/"
    return f"{url}{user.pk}/" if user is not None else url


def test_creating_a_workspace_makes_the_caller_its_owner(api, owner):
    response = api.post("/api/v1/workspaces/", {"name": "Ops"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["role"], body["personal"]) == ("Ops", "owner", False)
    assert roles_of(Workspace.objects.get(pk=body["id"])) == {owner.email: "owner"}


def test_the_list_shows_my_workspaces_with_my_role_only(client_for, team, outsider):
    _, people = team

    mine = client_for(people["viewer"]).get("/api/v1/workspaces/").json()
    theirs = client_for(outsider).get("/api/v1/workspaces/").json()

    assert sorted((w["name"], w["role"]) for w in mine) == sorted(
        [("Team", "viewer"), (workspace_ensure_personal(user=people["viewer"]).name, "owner")]
    )
    assert [w["name"] for w in theirs] == [workspace_ensure_personal(user=outsider).name]


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("editor", 403), ("admin", 200)])
def test_renaming_needs_admin(client_for, team, role, status):
    workspace, people = team

    response = client_for(people[role]).patch(
        f"/api/v1/workspaces/{workspace.pk}/", {"name": "Renamed"}, format="json"
    )

    assert response.status_code == status
    workspace.refresh_from_db()
    assert workspace.name == ("Renamed" if status == 200 else "Team")


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_only_an_owner_deletes_a_workspace(client_for, team, role):
    workspace, people = team

    response = client_for(people[role]).delete(f"/api/v1/workspaces/{workspace.pk}/")

    assert response.status_code == 403
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_the_owner_deletes_a_shared_workspace_but_not_a_personal_one(api, owner, team):
    workspace, _ = team
    personal = workspace_ensure_personal(user=owner)

    deleted = api.delete(f"/api/v1/workspaces/{workspace.pk}/")
    refused = api.delete(f"/api/v1/workspaces/{personal.pk}/")

    assert deleted.status_code == 204
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "personal_workspace"
    assert Workspace.objects.filter(pk=personal.pk).exists()


def test_another_workspace_answers_404_everywhere(client_for, team, outsider):
    workspace, people = team
    api = client_for(outsider)
    before = roles_of(workspace)

    responses = [
        api.get(f"/api/v1/workspaces/{workspace.pk}/"),
        api.patch(f"/api/v1/workspaces/{workspace.pk}/", {"name": "x"}, format="json"),
        api.delete(f"/api/v1/workspaces/{workspace.pk}/"),
        api.get(members_url(workspace)),
        api.post(members_url(workspace), {"email": outsider.email}, format="json"),
        api.patch(members_url(workspace, people["viewer"]), {"role": "owner"}, format="json"),
        api.delete(members_url(workspace, people["viewer"])),
    ]

    assert [r.status_code for r in responses] == [404] * 7
    assert {r.json()["error"]["code"] for r in responses} == {"not_found"}
    assert roles_of(workspace) == before
    assert Workspace.objects.get(pk=workspace.pk).name == "Team"


def test_every_member_lists_the_members(client_for, team):
    workspace, people = team

    response = client_for(people["viewer"]).get(members_url(workspace))

    assert response.status_code == 200
    assert sorted((m["email"], m["role"]) for m in response.json()) == sorted(
        (people[r].email, r) for r in ("owner", "admin", "editor", "viewer")
    )


def test_an_admin_adds_an_existing_user_by_email(client_for, team):
    workspace, people = team
    newcomer = UserFactory.create()

    response = client_for(people["admin"]).post(
        members_url(workspace), {"email": newcomer.email.upper(), "role": "editor"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["user_id"] == str(newcomer.pk)
    assert roles_of(workspace)[newcomer.email] == "editor"


def test_adding_an_unknown_email_is_a_400_naming_email(api, team):
    workspace, _ = team
    before = roles_of(workspace)

    response = api.post(members_url(workspace), {"email": "nobody@example.com"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == ["email"]
    assert roles_of(workspace) == before


def test_adding_a_member_twice_is_a_conflict(api, team):
    workspace, people = team

    response = api.post(members_url(workspace), {"email": people["viewer"].email}, format="json")

    assert response.status_code == 409
    assert roles_of(workspace)[people["viewer"].email] == "viewer"


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors_cannot_manage_members(client_for, team, role):
    workspace, people = team
    api = client_for(people[role])
    newcomer = UserFactory.create()
    before = roles_of(workspace)

    responses = [
        api.post(members_url(workspace), {"email": newcomer.email}, format="json"),
        api.patch(members_url(workspace, people["viewer"]), {"role": "editor"}, format="json"),
        api.delete(members_url(workspace, people["admin"])),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert roles_of(workspace) == before


def test_an_admin_changes_roles_but_cannot_touch_owners(client_for, team):
    workspace, people = team
    api = client_for(people["admin"])

    promoted = api.patch(members_url(workspace, people["viewer"]), {"role": "editor"}, "json")
    made_owner = api.patch(members_url(workspace, people["editor"]), {"role": "owner"}, "json")
    demoted_owner = api.patch(members_url(workspace, people["owner"]), {"role": "viewer"}, "json")
    removed_owner = api.delete(members_url(workspace, people["owner"]))

    assert promoted.status_code == 200
    assert promoted.json()["role"] == "editor"
    assert [made_owner.status_code, demoted_owner.status_code, removed_owner.status_code] == [
        403,
        403,
        403,
    ]
    assert roles_of(workspace) == {
        people["owner"].email: "owner",
        people["admin"].email: "admin",
        people["editor"].email: "editor",
        people["viewer"].email: "editor",
    }


def test_an_admin_removes_a_member_and_anyone_may_leave(client_for, team):
    workspace, people = team

    removed = client_for(people["admin"]).delete(members_url(workspace, people["editor"]))
    left = client_for(people["viewer"]).delete(members_url(workspace, people["viewer"]))

    assert (removed.status_code, left.status_code) == (204, 204)
    assert roles_of(workspace) == {people["owner"].email: "owner", people["admin"].email: "admin"}


def test_the_last_owner_can_be_neither_demoted_nor_removed(api, owner, team):
    workspace, _ = team
    before = roles_of(workspace)

    demoted = api.patch(members_url(workspace, owner), {"role": "admin"}, format="json")
    removed = api.delete(members_url(workspace, owner))

    for response in (demoted, removed):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "last_owner"
    assert roles_of(workspace) == before


def test_with_a_second_owner_the_first_may_step_down(api, owner, team):
    workspace, people = team
    api.patch(members_url(workspace, people["admin"]), {"role": "owner"}, format="json")

    response = api.patch(members_url(workspace, owner), {"role": "admin"}, format="json")

    assert response.status_code == 200
    assert roles_of(workspace)[owner.email] == "admin"
    assert roles_of(workspace)[people["admin"].email] == "owner"


def test_an_unknown_member_or_role_is_refused(api, team, outsider):
    workspace, people = team

    stranger = api.patch(members_url(workspace, outsider), {"role": "editor"}, format="json")
    bad_role = api.patch(members_url(workspace, people["viewer"]), {"role": "god"}, format="json")

    assert stranger.status_code == 404
    assert bad_role.status_code == 400
    assert list(bad_role.json()["error"]["details"]) == ["role"]
    assert roles_of(workspace)[people["viewer"].email] == "viewer"
