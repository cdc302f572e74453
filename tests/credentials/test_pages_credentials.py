"""Credential pages over Django's test client: roles, write-only secrets, field errors."""

import pytest

from credentials.models import Credential
from credentials.services import credential_create, credential_fields
from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create

from ..conftest import signed_in_client
from ..executing import chain

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-bearer-VALUE-9f2c"


@pytest.fixture
def workspace(owner):
    return workspace_ensure_personal(user=owner)


@pytest.fixture
def bearer(owner, workspace):
    return credential_create(
        user=owner, workspace=workspace, name="api", type="http_bearer", data={"token": SECRET}
    )


def test_create_stores_the_secret_and_never_shows_it(owner, workspace):
    client = signed_in_client(owner)
    response = client.post(
        "/credentials/new/http_basic/",
        {"name": "shop", "field_username": "ann", "field_password": SECRET},
    )
    credential = Credential.objects.get(workspace=workspace, name="shop")
    assert response.status_code == 302 and response["Location"] == f"/credentials/{credential.pk}/"
    assert credential_fields(credential=credential) == {"username": "ann", "password": SECRET}
    page = client.get(response["Location"]).content.decode()
    assert "ann" in page and SECRET not in page


def test_edit_with_a_blank_secret_keeps_the_stored_one(owner, bearer):
    client = signed_in_client(owner)
    response = client.post(f"/credentials/{bearer.pk}/", {"name": "renamed", "field_token": ""})
    assert response.status_code == 302
    bearer.refresh_from_db()
    assert bearer.name == "renamed"
    assert credential_fields(credential=bearer) == {"token": SECRET}


def test_bad_input_comes_back_with_field_errors(owner, workspace, bearer):
    client = signed_in_client(owner)
    response = client.post(
        "/credentials/new/smtp/", {"name": "mail", "field_host": "", "field_port": "99999"}
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["field_host"] == ["This field is required."]
    assert "port number" in errors["field_port"][0]
    response = client.post("/credentials/new/http_bearer/", {"name": "api", "field_token": "x"})
    assert response.status_code == 400
    assert "exists" in response.context["form"].errors["name"][0]
    assert Credential.objects.filter(workspace=workspace).count() == 1
    assert client.get("/credentials/new/no_such_type/").status_code == 404


def test_list_names_the_workflows_using_each_credential(owner, workspace, bearer, viewer):
    graph = chain(
        {
            "id": "call",
            "type": "http.request",
            "params": {"url": "https://x.test"},
            "credential": str(bearer.pk),
        }
    )
    workflow_create(user=owner, workspace=workspace, name="Uses it", graph=graph)
    workflow_create(user=owner, workspace=workspace, name="Does not", graph=chain())
    page = signed_in_client(viewer, workspace).get("/credentials/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Uses it" in html and "Does not" not in html
    # A viewer sees the list but no control that changes anything.
    assert (
        "New credential" not in html
        and "Delete" not in html
        and 'method="post"' not in html.split("</header>")[1]
    )


@pytest.mark.parametrize("role_user", ["viewer", "teammate"])
def test_below_admin_cannot_create_edit_delete_or_connect(request, role_user, workspace, bearer):
    client = signed_in_client(request.getfixturevalue(role_user), workspace)
    assert client.get("/credentials/new/").status_code == 403
    assert (
        client.post("/credentials/new/http_bearer/", {"name": "x", "field_token": "y"}).status_code
        == 403
    )
    assert client.get(f"/credentials/{bearer.pk}/").status_code == 403
    assert client.post(f"/credentials/{bearer.pk}/", {"name": "x"}).status_code == 403
    assert client.post(f"/credentials/{bearer.pk}/delete/").status_code == 403
    assert client.post(f"/credentials/{bearer.pk}/connect/").status_code == 403
    assert list(Credential.objects.values_list("name", flat=True)) == ["api"]
    assert credential_fields(credential=bearer) == {"token": SECRET}


def test_outsider_gets_404_for_another_workspace_credential(outsider, bearer):
    client = signed_in_client(outsider)
    workspace_ensure_personal(user=outsider)
    assert client.get(f"/credentials/{bearer.pk}/").status_code == 404
    assert client.post(f"/credentials/{bearer.pk}/delete/").status_code == 404
    assert Credential.objects.filter(pk=bearer.pk).exists()


def test_delete_removes_it(owner, bearer):
    response = signed_in_client(owner).post(f"/credentials/{bearer.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/credentials/"
    assert not Credential.objects.filter(pk=bearer.pk).exists()


def test_connect_on_a_non_oauth2_credential_says_why(owner, bearer):
    client = signed_in_client(owner)
    response = client.post(f"/credentials/{bearer.pk}/connect/", follow=True)
    assert "Only oauth2_client credentials connect." in response.content.decode()


def test_oauth2_return_with_an_unknown_state_is_an_error_message(owner):
    response = signed_in_client(owner).get(
        "/credentials/oauth2/return/?state=nope&code=x", follow=True
    )
    assert response.status_code == 200
    assert "unknown or expired" in response.content.decode()
