"""Every user has a workspace, however the user was made (sign-up, createsuperuser, the
Django admin, a bare row), and a signed-in user is never told it belongs to no workspace."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from linkflow.accounts.models import Membership, Role, User, Workspace
from linkflow.accounts.services import user_create

from ..conftest import signed_in_client
from ..executing import chain

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-Passw0rd"


def _owned_personal_workspace(user: User) -> Workspace:
    workspace = Workspace.objects.get(personal_owner=user)
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER
    return workspace


def _creates_a_workflow_over_the_api(user: User) -> dict:
    client = Client()
    tokens = client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    ).json()
    response = client.post(
        "/api/v1/workflows/",
        {"name": "first", "graph": chain()},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tokens['access']}",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_createsuperuser_makes_an_admin_who_can_create_a_workflow_over_the_api(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("createsuperuser", interactive=False, email="Root@Example.com", verbosity=0)

    user = User.objects.get(email="root@example.com")
    workspace = _owned_personal_workspace(user)
    assert user.is_superuser and user.is_staff
    assert _creates_a_workflow_over_the_api(user)["workspace"] == str(workspace.pk)


def test_a_user_added_in_the_django_admin_gets_a_personal_workspace():
    operator = user_create(email="ops@example.com", password=PASSWORD, is_staff=True)
    body = {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD}

    response = signed_in_client(operator).post(reverse("admin:accounts_user_add"), body)

    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    _owned_personal_workspace(user)
    _creates_a_workflow_over_the_api(user)


def test_sign_up_gives_a_personal_workspace():
    user = user_create(email="ada@example.com", password=PASSWORD)

    assert _owned_personal_workspace(user).name == "ada's workspace"


def test_a_user_with_no_workspace_at_all_gets_one_on_first_use_instead_of_a_404():
    # Made around every creation path (a raw row, as a script or an old release might).
    user = User(email="bare@example.com")
    user.set_password(PASSWORD)
    user.save()
    assert not Workspace.objects.filter(members=user).exists()

    created = _creates_a_workflow_over_the_api(user)
    page = signed_in_client(user).get(reverse("workflow-list"))

    workspace = _owned_personal_workspace(user)
    assert created["workspace"] == str(workspace.pk)
    assert page.status_code == 200
    assert "belong to no workspace" not in page.content.decode()
    assert Workspace.objects.filter(personal_owner=user).count() == 1


def test_a_user_who_left_every_workspace_gets_a_personal_one_on_first_use():
    user = user_create(email="leaver@example.com", password=PASSWORD)
    Workspace.objects.filter(personal_owner=user).delete()

    created = _creates_a_workflow_over_the_api(user)

    assert created["workspace"] == str(_owned_personal_workspace(user).pk)


@pytest.mark.django_db(transaction=True)
def test_a_newcomers_first_hour_createsuperuser_then_fifty_executions_back_to_back_all_succeed(
    monkeypatch, start_worker
):
    # The shipped defaults (billing off): no plan limit may refuse or stall any of them.
    from executions.models import Execution

    from ..conftest import wait_for

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, email="first@example.com", verbosity=0)
    user = User.objects.get(email="first@example.com")
    workflow = _creates_a_workflow_over_the_api(user)
    client = Client()
    access = client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    ).json()["access"]

    answers = [
        client.post(
            f"/api/v1/workflows/{workflow['id']}/execute",
            {"input": {"n": n}},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {access}",
        )
        for n in range(50)
    ]

    assert [answer.status_code for answer in answers] == [202] * 50
    ids = [answer.json()["id"] for answer in answers]
    start_worker()
    wait_for(
        lambda: Execution.objects.filter(pk__in=ids, status="succeeded").count() == 50,
        timeout=120,
        what="all fifty executions to succeed",
    )
