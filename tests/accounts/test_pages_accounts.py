"""Access rules and form errors of the account pages: sign-up, sign-in, passwords,
members, workspaces and API keys (Django's test client; the browser journeys are in
tests/e2e/test_accounts.py and test_api_keys.py)."""

import re
import uuid

import pytest
from django.core import mail

from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.login_throttle import login_succeeded
from linkflow.accounts.models import ApiKey, Membership, Role, User, Workspace
from linkflow.accounts.services import (
    membership_add,
    user_create,
    workspace_create,
    workspace_ensure_personal,
)
from linkflow.accounts.web import SESSION_KEY

from ..conftest import signed_in_client
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a much better passphrase 42"


@pytest.fixture
def team(owner: User) -> Workspace:
    return workspace_ensure_personal(user=owner)


@pytest.fixture
def admin(owner: User, team: Workspace) -> User:
    user = user_create(email=f"admin-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD)
    membership_add(workspace=team, user=user, role=Role.ADMIN)
    return user


def role_of(user: User, workspace: Workspace) -> str | None:
    return (
        Membership.objects.filter(user=user, workspace=workspace)
        .values_list("role", flat=True)
        .first()
    )


# --- sign-up and sign-in -----------------------------------------------------------------


def test_sign_up_creates_the_user_and_workspace_and_signs_in(client):
    body = {"email": "New@Example.com", "name": "Ada", "password1": NEW_PASSWORD}
    response = client.post("/accounts/signup/", {**body, "password2": NEW_PASSWORD})

    user = User.objects.get(email="new@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/workflows/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert role_of(user, Workspace.objects.get(personal_owner=user)) == Role.OWNER


@pytest.mark.parametrize(
    ("password", "field", "message"),
    [
        ("short", "password1", "too short"),
        ("password123", "password1", "too common"),
        ("97531864209", "password1", "entirely numeric"),
    ],
)
def test_sign_up_refuses_a_weak_password_next_to_the_field(client, password, field, message):
    body = {"email": "weak@example.com", "password1": password, "password2": password}
    response = client.post("/accounts/signup/", body)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not User.objects.filter(email="weak@example.com").exists()


def test_sign_up_refuses_a_taken_email_and_differing_passwords(client, owner):
    body = {"email": owner.email.upper(), "password1": NEW_PASSWORD, "password2": "other pass 99"}
    response = client.post("/accounts/signup/", body)

    errors = response.context["form"].errors
    assert response.status_code == 400
    assert errors["email"] == ["An account with this e-mail exists already."]
    assert errors["password2"] == ["The two passwords differ."]
    assert User.objects.filter(email__iexact=owner.email).count() == 1


def test_sign_in_form_is_locked_after_too_many_wrong_passwords(client, settings):
    settings.LINKFLOW_LOGIN_MAX_FAILURES = 2
    user = user_create(email=f"guess-{uuid.uuid4().hex}@example.com", password=PASSWORD)
    try:
        wrong = [
            client.post("/accounts/login/", {"username": user.email, "password": password})
            # A post without a password in between does not wipe the count.
            for password in ("nope", "", "nope again")
        ]
        refused = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    finally:
        login_succeeded(address="127.0.0.1", email=user.email)

    assert [r.status_code for r in wrong] == [200, 200, 200]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many failed sign-ins" in refused.content
    assert "_auth_user_id" not in client.session


# --- passwords -----------------------------------------------------------------------------


def test_password_reset_mails_a_link_that_sets_a_new_password(client, owner):
    client.post("/accounts/password/reset/", {"email": owner.email})
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    owner.refresh_from_db()
    assert mail.outbox[0].to == [owner.email]
    assert done["Location"] == "/accounts/password/reset/complete/"
    assert owner.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_email_says_the_same_and_sends_nothing(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_password_reset_mails_one_address_a_few_times_an_hour_then_says_the_same(client, settings):
    settings.LINKFLOW_PASSWORD_RESET_MAX = 2
    user = user_create(email=f"reset-{uuid.uuid4().hex}@example.com", password=PASSWORD)

    answers = [client.post("/accounts/password/reset/", {"email": user.email}) for _ in range(4)]

    assert [a["Location"] for a in answers] == ["/accounts/password/reset/sent/"] * 4
    assert len(mail.outbox) == 2


def test_password_change_with_a_wrong_old_password_changes_nothing(owner):
    client = signed_in_client(owner)
    body = {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = client.post("/accounts/password/change/", body)

    owner.refresh_from_db()
    assert response.status_code == 400
    assert "old_password" in response.context["form"].errors
    assert owner.check_password(PASSWORD)


def test_pages_need_sign_in(client):
    for path in ("/workspace/members/", "/settings/api-keys/", "/accounts/password/change/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/?next="), path


# --- members -------------------------------------------------------------------------------


def test_a_viewer_sees_the_members_but_no_controls(viewer, team, owner):
    response = signed_in_client(viewer, team).get("/workspace/members/")

    body = response.content.decode()
    assert response.status_code == 200
    assert owner.email in body and viewer.email in body
    assert "Add member" not in body and "Change role" not in body and "Remove" not in body


@pytest.mark.parametrize("who", ["viewer", "teammate"])
def test_viewers_and_editors_cannot_manage_members(request, who, team, outsider, owner):
    person = request.getfixturevalue(who)
    client = signed_in_client(person, team)
    before = sorted(Membership.objects.filter(workspace=team).values_list("user_id", "role"))

    responses = [
        client.post("/workspace/members/add/", {"email": outsider.email, "role": "admin"}),
        client.post(f"/workspace/members/{person.pk}/role/", {"role": "owner"}),
        client.post(f"/workspace/members/{owner.pk}/remove/"),
        client.post("/workspace/rename/", {"name": "Taken over"}),
    ]

    assert [r.status_code for r in responses] == [403] * 4
    assert (
        sorted(Membership.objects.filter(workspace=team).values_list("user_id", "role")) == before
    )
    assert Workspace.objects.get(pk=team.pk).name == team.name


def test_an_admin_adds_changes_and_removes_a_member(admin, team, outsider):
    client = signed_in_client(admin, team)

    added = client.post("/workspace/members/add/", {"email": outsider.email, "role": "viewer"})
    role_after_add = role_of(outsider, team)
    changed = client.post(f"/workspace/members/{outsider.pk}/role/", {"role": "editor"})
    role_after_change = role_of(outsider, team)
    removed = client.post(f"/workspace/members/{outsider.pk}/remove/")

    assert [added.status_code, changed.status_code, removed.status_code] == [302, 302, 302]
    assert (role_after_add, role_after_change) == ("viewer", "editor")
    assert role_of(outsider, team) is None


def test_member_add_errors_are_shown_next_to_the_email_field(admin, team, teammate):
    client = signed_in_client(admin, team)

    unknown = client.post(
        "/workspace/members/add/", {"email": "ghost@example.com", "role": "editor"}
    )
    already = client.post("/workspace/members/add/", {"email": teammate.email, "role": "viewer"})
    malformed = client.post("/workspace/members/add/", {"email": "not-an-email", "role": "boss"})

    assert unknown.status_code == 400
    assert unknown.context["add_form"].errors["email"] == ["No user has this email address."]
    assert already.status_code == 409
    assert "already a member" in already.content.decode()
    assert malformed.status_code == 400
    assert set(malformed.context["add_form"].errors) == {"email", "role"}
    assert role_of(teammate, team) == "editor"


def test_an_admin_cannot_make_or_unmake_an_owner(admin, team, owner, teammate):
    client = signed_in_client(admin, team)

    promote = client.post(f"/workspace/members/{teammate.pk}/role/", {"role": "owner"})
    demote = client.post(f"/workspace/members/{owner.pk}/role/", {"role": "viewer"})
    remove = client.post(f"/workspace/members/{owner.pk}/remove/")

    assert [promote.status_code, demote.status_code, remove.status_code] == [403, 403, 403]
    assert "owner role" in promote.content.decode()
    assert (role_of(teammate, team), role_of(owner, team)) == ("editor", "owner")


def test_the_last_owner_cannot_step_down_and_the_page_says_why(owner, team):
    response = signed_in_client(owner, team).post(
        f"/workspace/members/{owner.pk}/role/", {"role": "admin"}
    )

    assert response.status_code == 409
    assert response.context["row_error"].startswith("A workspace needs an owner")
    assert role_of(owner, team) == "owner"


def test_a_member_of_another_workspace_is_not_found(owner, team, outsider):
    response = signed_in_client(owner, team).post(f"/workspace/members/{outsider.pk}/remove/")

    assert response.status_code == 404
    assert role_of(outsider, workspace_ensure_personal(user=outsider)) == "owner"


# --- workspaces ----------------------------------------------------------------------------


def test_any_member_creates_a_workspace_and_works_in_it(viewer):
    client = signed_in_client(viewer)
    response = client.post("/workspace/new/", {"name": "Side project"})

    workspace = Workspace.objects.get(name="Side project")
    assert response["Location"] == "/workspace/members/"
    assert role_of(viewer, workspace) == "owner"
    assert client.session[SESSION_KEY] == str(workspace.pk)


def test_a_blank_workspace_name_is_refused(owner, team):
    client = signed_in_client(owner, team)
    created = client.post("/workspace/new/", {"name": "  "})
    renamed = client.post("/workspace/rename/", {"name": ""})

    assert created.status_code == 400 and "name" in created.context["form"].errors
    assert renamed.status_code == 400 and "name" in renamed.context["rename_form"].errors
    assert Workspace.objects.get(pk=team.pk).name == team.name


def test_an_admin_renames_the_workspace(admin, team):
    response = signed_in_client(admin, team).post("/workspace/rename/", {"name": "Growth team"})

    assert response.status_code == 302
    assert Workspace.objects.get(pk=team.pk).name == "Growth team"


# --- API keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["viewer", "teammate"])
def test_viewers_and_editors_cannot_see_or_mint_keys(request, who, team, owner):
    person = request.getfixturevalue(who)
    key, _ = api_key_create(user=owner, workspace=team, name="ci", scopes=["workflows:read"])
    client = signed_in_client(person, team)

    page = client.get("/settings/api-keys/")
    created = client.post("/settings/api-keys/", {"name": "mine", "scopes": ["workflows:read"]})
    revoked = client.post(f"/settings/api-keys/{key.pk}/revoke/")

    assert [page.status_code, created.status_code, revoked.status_code] == [403, 403, 403]
    assert list(ApiKey.objects.values_list("name", "revoked_at")) == [("ci", None)]


def test_an_admin_mints_a_key_whose_secret_is_shown_once(admin, team):
    client = signed_in_client(admin, team)
    body = {"name": "deploys", "scopes": ["workflows:read", "executions:write"]}

    created = client.post("/settings/api-keys/", body)
    later = client.get("/settings/api-keys/")

    key = ApiKey.objects.get(workspace=team)
    raw_key = created.context["raw_key"]
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    assert raw_key.startswith(key.prefix + "_") and raw_key in created.content.decode()
    assert key.scopes == ["executions:write", "workflows:read"]
    assert later.status_code == 200
    assert key.prefix in later.content.decode() and raw_key not in later.content.decode()


def test_a_key_without_scopes_or_name_gets_field_errors(owner, team):
    response = signed_in_client(owner, team).post(
        "/settings/api-keys/", {"name": "", "scopes": ["root"]}
    )

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "scopes"}
    assert not ApiKey.objects.exists()


def test_a_key_expiring_in_the_past_is_refused_next_to_the_field(owner, team):
    body = {"name": "old", "scopes": ["workflows:read"], "expires_at": "2001-01-01T00:00"}
    response = signed_in_client(owner, team).post("/settings/api-keys/", body)

    assert response.status_code == 400
    assert response.context["form"].errors["expires_at"] == ["This time is in the past."]
    assert not ApiKey.objects.exists()


def test_another_workspaces_key_cannot_be_revoked(owner, team, outsider):
    theirs = workspace_ensure_personal(user=outsider)
    key, _ = api_key_create(user=outsider, workspace=theirs, name="x", scopes=["workflows:read"])

    response = signed_in_client(owner, team).post(f"/settings/api-keys/{key.pk}/revoke/")

    key.refresh_from_db()
    assert response.status_code == 404
    assert key.revoked_at is None


def test_an_owner_revokes_a_key(owner, team):
    key, _ = api_key_create(user=owner, workspace=team, name="x", scopes=["workflows:read"])

    response = signed_in_client(owner, team).post(f"/settings/api-keys/{key.pk}/revoke/")

    key.refresh_from_db()
    assert response.status_code == 302
    assert key.revoked_at is not None


def test_only_an_owner_deletes_a_shared_workspace(owner, admin):
    shared = workspace_create(user=owner, name="Shared")
    membership_add(workspace=shared, user=admin, role=Role.ADMIN)

    refused = signed_in_client(admin, shared).post("/workspace/delete/")
    still_there = Workspace.objects.filter(pk=shared.pk).exists()
    client = signed_in_client(owner, shared)
    deleted = client.post("/workspace/delete/")

    assert refused.status_code == 403 and still_there
    assert deleted["Location"] == "/"
    assert not Workspace.objects.filter(pk=shared.pk).exists()
    assert SESSION_KEY not in client.session


def test_a_personal_workspace_cannot_be_deleted_and_the_page_says_why(owner, team):
    response = signed_in_client(owner, team).post("/workspace/delete/")

    assert response.status_code == 409
    assert "personal workspace cannot be deleted" in response.content.decode()
    assert Workspace.objects.filter(pk=team.pk).exists()
