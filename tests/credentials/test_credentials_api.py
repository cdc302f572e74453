"""Credentials over the API: write-only values, schema checks, roles, key rotation."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from credentials import crypto
from credentials.models import Credential
from credentials.services import credential_create, credential_resolver
from linkflow.accounts.models import Role
from linkflow.accounts.services import membership_add, workspace_create

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "tok-9f8e7d6c5b4a"
URL = "/api/v1/credentials/"


@pytest.fixture
def team(owner):
    workspace = workspace_create(user=owner, name="Team")
    people = {"owner": owner}
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        people[role.value] = UserFactory.create()
        membership_add(workspace=workspace, user=people[role.value], role=role)
    return workspace, people


@pytest.fixture
def bearer(team):
    workspace, _ = team
    return credential_create(
        workspace=workspace, name="api", type="http_bearer", data={"token": TOKEN}
    )


def create(api, workspace, **body):
    payload = {"name": "c", "type": "http_bearer", "data": {"token": TOKEN}, **body}
    return api.post(URL, {"workspace": str(workspace.pk), **payload}, format="json")


def test_a_created_credential_is_encrypted_and_never_shown(api, team):
    workspace, _ = team

    response = create(
        api,
        workspace,
        name="smtp",
        type="smtp",
        data={"host": "mail.example.com", "port": "587", "password": "hunter2-secret"},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["fields_set"] == ["host", "port", "password"]
    assert body["type"] == "smtp"
    assert "hunter2-secret" not in response.content.decode()
    row = Credential.objects.get(pk=body["id"])
    assert "hunter2-secret" not in row.secret and "mail.example.com" not in row.secret
    assert credential_resolver(workspace_id=workspace.pk)(str(row.pk)) == {
        "type": "smtp",
        "host": "mail.example.com",
        "port": 587,
        "password": "hunter2-secret",
    }


def test_list_and_detail_show_which_fields_are_set_never_values(client_for, team, bearer):
    workspace, people = team
    api = client_for(people["viewer"])

    listed = api.get(URL)
    detail = api.get(f"{URL}{bearer.pk}/")

    assert listed.status_code == detail.status_code == 200
    assert [c["name"] for c in listed.json() if c["workspace"] == str(workspace.pk)] == ["api"]
    assert detail.json()["fields_set"] == ["token"]
    assert set(detail.json()) == {
        "id",
        "name",
        "type",
        "workspace",
        "fields_set",
        "oauth2",
        "created_by",
        "created_at",
        "updated_at",
    }
    for response in (listed, detail):
        assert TOKEN not in response.content.decode()


@pytest.mark.parametrize(
    ("type", "data", "field"),
    [
        ("http_basic", {"username": "u"}, "password"),
        ("http_bearer", {"token": TOKEN, "extra": "x"}, "extra"),
        ("http_header", {"name": "X-Key", "value": 5}, "value"),
        ("smtp", {"host": "h", "port": 70000}, "port"),
        ("smtp", {"host": "h", "port": 25, "security": "ssl3"}, "security"),
        (
            "oauth2_client",
            {"client_id": "c", "authorize_url": "ftp://x", "token_url": "http://t"},
            "authorize_url",
        ),
        ("slack", {}, "webhook_url"),
        ("webhook_auth", {"header_name": "X-T"}, "token"),
    ],
)
def test_fields_are_checked_against_the_type_schema(api, team, type, data, field):
    workspace, _ = team

    response = create(api, workspace, type=type, data=data)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]["data"]
    assert not Credential.objects.filter(workspace=workspace).exists()


def test_an_unknown_type_or_a_taken_name_is_a_400_naming_the_field(api, team, bearer):
    workspace, _ = team

    unknown = create(api, workspace, name="other", type="ftp")
    taken = create(api, workspace, name="api")

    assert list(unknown.json()["error"]["details"]) == ["type"]
    assert list(taken.json()["error"]["details"]) == ["name"]
    assert (unknown.status_code, taken.status_code) == (400, 400)
    assert Credential.objects.filter(workspace=workspace).count() == 1


def test_patch_merges_fields_and_put_replaces_them(api, team):
    workspace, _ = team
    created = create(
        api,
        workspace,
        name="mail",
        type="smtp",
        data={"host": "a.example.com", "port": 25, "username": "me", "password": "pw-1234"},
    ).json()

    patched = api.patch(f"{URL}{created['id']}/", {"data": {"password": "pw-5678"}}, "json")
    resolve = credential_resolver(workspace_id=workspace.pk)
    after_patch = resolve(created["id"])
    put = api.put(
        f"{URL}{created['id']}/", {"data": {"host": "b.example.com", "port": 465}}, "json"
    )

    assert patched.status_code == put.status_code == 200
    assert after_patch["password"] == "pw-5678" and after_patch["username"] == "me"
    assert put.json()["fields_set"] == ["host", "port"]
    assert credential_resolver(workspace_id=workspace.pk)(created["id"]) == {
        "type": "smtp",
        "host": "b.example.com",
        "port": 465,
    }


def test_an_invalid_update_changes_nothing(api, team, bearer):
    before = bearer.secret

    response = api.patch(f"{URL}{bearer.pk}/", {"name": "x", "data": {"token": None}}, "json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["data"]) == ["token"]
    bearer.refresh_from_db()
    assert (bearer.name, bearer.secret) == ("api", before)


@pytest.mark.parametrize(
    ("role", "allowed"), [("viewer", False), ("editor", False), ("admin", True), ("owner", True)]
)
def test_writing_credentials_needs_admin_or_owner(client_for, team, bearer, role, allowed):
    workspace, people = team
    api = client_for(people[role])

    created = create(api, workspace, name="new")
    updated = api.patch(f"{URL}{bearer.pk}/", {"name": "renamed"}, format="json")
    deleted = api.delete(f"{URL}{bearer.pk}/")
    read = api.get(f"{URL}{bearer.pk}/")

    if allowed:
        assert [created.status_code, updated.status_code, deleted.status_code] == [201, 200, 204]
        assert list(
            Credential.objects.filter(workspace=workspace).values_list("name", flat=True)
        ) == ["new"]
    else:
        assert [created.status_code, updated.status_code, deleted.status_code] == [403, 403, 403]
        assert read.status_code == 200
        assert list(
            Credential.objects.filter(workspace=workspace).values_list("name", flat=True)
        ) == ["api"]


def test_another_workspaces_credential_answers_404(client_for, team, bearer, outsider):
    workspace, _ = team
    api = client_for(outsider)
    before = bearer.secret

    responses = [
        api.get(f"{URL}{bearer.pk}/"),
        api.patch(f"{URL}{bearer.pk}/", {"name": "mine"}, format="json"),
        api.delete(f"{URL}{bearer.pk}/"),
        create(api, workspace, name="sneaky"),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert bearer.pk not in [c["id"] for c in api.get(URL).json()]
    bearer.refresh_from_db()
    assert (bearer.name, bearer.secret) == ("api", before)
    assert Credential.objects.filter(workspace=workspace).count() == 1


def test_the_types_endpoint_marks_secret_fields(api):
    types = {t["type"]: t for t in api.get(f"{URL}types").json()}

    assert set(types) == {
        "http_basic",
        "http_bearer",
        "http_header",
        "oauth2_client",
        "smtp",
        "slack",
        "webhook_auth",
        "postgres",
        "mysql",
        "redis",
        "amqp",
        "mqtt",
        "nats",
        "s3",
        "hmac_key",
    }
    basic = {f["name"]: f["secret"] for f in types["http_basic"]["fields"]}
    assert basic == {"username": False, "password": True}
    assert types["slack"]["one_of"] == ["webhook_url", "token"]


def test_rotating_keys_keeps_every_credential_usable(settings, team, bearer):
    workspace, _ = team
    old_key = settings.LINKFLOW_CREDENTIAL_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.LINKFLOW_CREDENTIAL_KEYS = [new_key, *settings.LINKFLOW_CREDENTIAL_KEYS]
    crypto._fernet.cache_clear()

    call_command("rotate_credential_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.LINKFLOW_CREDENTIAL_KEYS = [new_key]
    crypto._fernet.cache_clear()

    bearer.refresh_from_db()
    assert Fernet(new_key.encode()).decrypt(bearer.secret.encode())
    with pytest.raises(InvalidToken):  # the old key alone no longer reads it
        Fernet(old_key.encode()).decrypt(bearer.secret.encode())
    assert credential_resolver(workspace_id=workspace.pk)(str(bearer.pk)) == {
        "type": "http_bearer",
        "token": TOKEN,
    }
