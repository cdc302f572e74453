"""OAuth2 for third-party integrations: authorization code + PKCE, refresh, scopes, revocation."""

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from workflows.models import Workflow
from workflows.services import workflow_create

pytestmark = pytest.mark.django_db

REDIRECT = "https://integrator.example/callback"
GRAPH = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}


@pytest.fixture
def app(owner: User) -> Application:
    return Application.objects.create(
        name="Integrator",
        user=owner,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT,
    )


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorize(client: Client, app: Application, scope: str, challenge: str | None) -> str:
    """Consent as the signed-in user; return the authorization code."""
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "xyz",
    }
    if challenge:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = client.get("/oauth/authorize/", query)
    assert page.status_code == 200, page.content
    form = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    answer = client.post("/oauth/authorize/", {**form, "allow": "Authorize"})
    assert answer.status_code == 302
    params = parse_qs(urlparse(answer["Location"]).query)
    assert params["state"] == ["xyz"]
    return params["code"][0]


def _token(client: Client, **data: str) -> dict:
    response = client.post("/oauth/token/", data)
    assert response.status_code == 200, response.content
    return response.json()


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _full_flow(client: Client, app: Application, owner: User, scope: str) -> dict:
    client.force_login(owner)
    verifier, challenge = _pkce()
    code = _authorize(client, app, scope, challenge)
    client.logout()  # the integrator's server has no session
    return _token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=app.client_id,
        code_verifier=verifier,
    )


def test_authorization_code_with_pkce_round_trip_then_refresh(client, app, owner):
    workflow = workflow_create(
        user=owner, workspace=workspace_ensure_personal(user=owner), name="w", graph=GRAPH
    )

    tokens = _full_flow(client, app, owner, "workflows:read executions:read")

    assert set(tokens["scope"].split()) == {"workflows:read", "executions:read"}
    listed = client.get("/api/v1/workflows/", **_bearer(tokens["access_token"]))
    assert listed.status_code == 200
    assert str(workflow.pk) in listed.content.decode()

    refreshed = _token(
        client,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=app.client_id,
    )
    assert refreshed["access_token"] != tokens["access_token"]
    assert client.get("/api/v1/workflows/", **_bearer(refreshed["access_token"])).status_code == 200
    old = client.get("/api/v1/workflows/", **_bearer(tokens["access_token"]))
    assert old.status_code == 401
    assert old.json()["error"]["code"] == "authentication_failed"


def test_the_consent_page_names_the_scopes_asked_for(client, app, owner):
    client.force_login(owner)
    _, challenge = _pkce()

    page = client.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": REDIRECT,
            "scope": "workflows:write",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )

    assert page.status_code == 200
    assert "Create, change and delete workflows" in page.content.decode()


def test_an_authorization_request_without_pkce_gets_no_code(client, app, owner):
    client.force_login(owner)

    response = client.get(
        "/oauth/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": REDIRECT,
            "scope": "workflows:read",
        },
    )

    assert response.status_code == 302
    params = parse_qs(urlparse(response["Location"]).query)
    assert params["error"] == ["invalid_request"]
    assert "code" not in params


def test_a_code_cannot_be_exchanged_without_its_verifier(client, app, owner):
    client.force_login(owner)
    _, challenge = _pkce()
    code = _authorize(client, app, "workflows:read", challenge)

    response = client.post(
        "/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": app.client_id,
            "code_verifier": _pkce()[0],
        },
    )

    assert response.status_code == 400
    assert AccessToken.objects.count() == 0


def test_a_token_outside_its_scopes_is_refused_and_changes_nothing(client, app, owner):
    tokens = _full_flow(client, app, owner, "workflows:read")

    response = client.post(
        "/api/v1/workflows/",
        {"name": "w", "graph": GRAPH},
        content_type="application/json",
        **_bearer(tokens["access_token"]),
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Workflow.objects.count() == 0


def test_a_token_with_the_write_scope_acts_for_its_user(client, app, owner):
    tokens = _full_flow(client, app, owner, "workflows:write")

    response = client.post(
        "/api/v1/workflows/",
        {"name": "w", "graph": GRAPH},
        content_type="application/json",
        **_bearer(tokens["access_token"]),
    )

    assert response.status_code == 201, response.json()
    assert Workflow.objects.get().created_by_id == owner.pk


def test_a_revoked_token_is_refused(client, app, owner):
    tokens = _full_flow(client, app, owner, "workflows:read")

    revoked = client.post(
        "/oauth/revoke_token/", {"token": tokens["access_token"], "client_id": app.client_id}
    )
    response = client.get("/api/v1/workflows/", **_bearer(tokens["access_token"]))

    assert revoked.status_code == 200
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_an_expired_token_is_refused(client, app, owner):
    tokens = _full_flow(client, app, owner, "workflows:read")
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))

    response = client.get("/api/v1/workflows/", **_bearer(tokens["access_token"]))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_the_token_of_a_deactivated_user_is_refused(client, app, owner):
    tokens = _full_flow(client, app, owner, "workflows:read")
    User.objects.filter(pk=owner.pk).update(is_active=False)

    response = client.get("/api/v1/workflows/", **_bearer(tokens["access_token"]))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_token_cannot_manage_api_keys(client, app, owner):
    tokens = _full_flow(client, app, owner, "workspaces:write workspaces:read")
    workspace = workspace_ensure_personal(user=owner)

    response = client.post(
        f"/api/v1/workspaces/{workspace.pk}/api-keys/",
        {"name": "x", "scopes": ["workflows:read"]},
        content_type="application/json",
        **_bearer(tokens["access_token"]),
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
