"""Tenant isolation, for every /api/v1/ endpoint and method and every way to sign in.

The endpoints are read from the URL resolver, so a route added later is covered without
touching this file. Workspace A's people call every endpoint with workspace B's ids in
the path, the query and the body: they must get 403 or 404 wherever B's ids are in the
path, never see one of B's ids in a body, and leave every row of B as it was. A viewer of
A must not change anything of A either.
"""

import re
import secrets
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from credentials.services import credential_create
from executions.maintenance.dead_letters import dead_letter_record
from executions.models import DeadLetter
from executions.services import execution_create
from linkflow import api_v1
from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.models import Role, User, Workspace
from linkflow.accounts.scoping import SCOPES
from linkflow.accounts.services import membership_add, workspace_ensure_personal
from workflows.services import workflow_create

from .factories import UserFactory

pytestmark = pytest.mark.django_db

GRAPH = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}
WRITES = ("post", "put", "patch", "delete")
# Rows that may legitimately appear when someone is refused (the audit trail of it).
NOT_TENANT_DATA = {"audit"}
# Routes of rows only owners and admins see: to a viewer they may not exist (404).
ADMINS_ONLY = "/api/v1/dead-letters/"


@dataclass
class Endpoint:
    route: str  # the path pattern, for messages
    view: Any
    methods: list[str]
    params: list[str]


def _walk(patterns: list[Any], prefix: str = "/api/v1/") -> Iterator[Endpoint]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _literal(str(entry.pattern)))
        elif isinstance(entry, URLPattern):
            route = prefix + _literal(str(entry.pattern))
            params = re.findall(r"\{(\w+)\}", route)
            if "format" in params:
                continue
            yield Endpoint(route, entry.callback, _methods(entry.callback), params)


def _literal(pattern: str) -> str:
    """``<uuid:pk>`` and ``(?P<pk>[^/.]+)`` become ``{pk}``; regex anchors go."""
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    pattern = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)
    return pattern.replace("^", "").replace("$", "").replace("/?", "/")


def _methods(callback: Any) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:
        return sorted(actions)
    cls = getattr(callback, "cls", getattr(callback, "view_class", None))
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]


ENDPOINTS = list(_walk(api_v1.urlpatterns))


def _direct_workspace_field(model: type[models.Model]) -> str | None:
    for field in model._meta.concrete_fields:
        if field.is_relation and field.related_model is Workspace:
            return field.name
    return None


def _workspace_path(model: type[models.Model]) -> str | None:
    """How rows of ``model`` lead to their workspace ("workspace", "execution__workspace")."""
    if model is Workspace:
        return "pk"
    direct = _direct_workspace_field(model)
    if direct:
        return direct
    for field in model._meta.concrete_fields:
        if field.is_relation and field.related_model not in (None, User, model):
            inner = _direct_workspace_field(field.related_model)
            if inner:
                return f"{field.name}__{inner}"
    return None


def _tenant_models() -> list[tuple[type[models.Model], str]]:
    found = []
    for model in apps.get_models():
        path = _workspace_path(model)
        if path and model._meta.app_label not in NOT_TENANT_DATA:
            found.append((model, path))
    return found


def snapshot(workspace: Workspace) -> dict[str, list[str]]:
    """Every row belonging to the workspace, as comparable text."""
    return {
        model._meta.label: sorted(
            repr(sorted(row.items()))
            for row in model._default_manager.filter(**{path: workspace.pk}).values()
        )
        for model, path in _tenant_models()
    }


def row_ids(workspace: Workspace) -> set[str]:
    return {
        str(pk)
        for model, path in _tenant_models()
        for pk in model._default_manager.filter(**{path: workspace.pk}).values_list("pk", flat=True)
    }


@dataclass
class Tenant:
    workspace: Workspace
    owner: User
    objects: dict[str, str]  # model name -> one of its rows' ids in this workspace

    def bind(self, endpoint: Endpoint) -> tuple[str, bool]:
        """The endpoint's URL with this tenant's ids; whether every id was a real row."""
        url, real = endpoint.route, True
        basename = _model_name(getattr(endpoint.view, "initkwargs", {}).get("basename", ""))
        for param in endpoint.params:
            name = basename if param == "pk" else _model_name(param.removesuffix("_id"))
            value = self.objects.get(name)
            if value is None:
                real, value = False, str(uuid.uuid4())
            url = url.replace("{" + param + "}", value)
        return url, real


def _model_name(name: str) -> str:
    aliases = {"key": "apikey", "member": "user"}
    name = name.replace("-", "").replace("_", "")
    return aliases.get(name, name)


def _tenant(owner: User) -> Tenant:
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(user=owner, workspace=workspace, name="secret", graph=GRAPH)
    execution = execution_create(user=owner, workflow=workflow, trigger_input={}, mode="api")
    key, _ = api_key_create(user=owner, workspace=workspace, name="k", scopes=["workflows:read"])
    credential_create(
        workspace=workspace, name="c", type="http_bearer", data={"token": "s3cr3t"}, user=owner
    )
    # A job of this workspace that failed for good, so the dead-letter routes aim at a row.
    dead_letter_record(
        task_name="executions.run_execution",
        args=[str(execution.pk)],
        kwargs={},
        error="RuntimeError: boom",
        workspace_id=workspace.pk,
        execution_id=execution.pk,
    )
    objects = {"workspace": str(workspace.pk), "user": str(owner.pk)}
    objects |= {"workflow": str(workflow.pk), "execution": str(execution.pk), "apikey": str(key.pk)}
    objects["node"] = GRAPH["nodes"][0]["id"]  # the pinned-data routes name a node
    for model, path in _tenant_models():
        name = model._meta.model_name
        if name not in objects:
            pk = (
                model._default_manager.filter(**{path: workspace.pk})
                .values_list("pk", flat=True)
                .first()
            )
            if pk is not None:
                objects[name] = str(pk)
    return Tenant(workspace, owner, objects)


def _jwt(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def _oauth(user: User) -> APIClient:
    app = Application.objects.create(
        name="third party",
        user=user,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://integrator.example/cb",
    )
    token = secrets.token_hex(20)
    AccessToken.objects.create(
        user=user,
        application=app,
        token=token,
        expires=timezone.now() + timedelta(hours=1),
        scope=" ".join(SCOPES),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _api_key(user: User, workspace: Workspace) -> APIClient:
    _, raw_key = api_key_create(user=user, workspace=workspace, name="all", scopes=list(SCOPES))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def _body(target: Tenant, actor: User) -> dict[str, Any]:
    """Every field an endpoint might take, pointing at ``target``'s objects."""
    return {
        "name": "intruder",
        "description": "",
        "graph": GRAPH,
        "active": True,
        "workspace": target.objects["workspace"],
        "workflow": target.objects["workflow"],
        "input": {},
        "from_node": "start",
        "scopes": ["workflows:read"],
        "email": actor.email,
        "role": "owner",
        "refresh": "not-a-token",
        "type": "http_bearer",
        "data": {"token": "x"},
    }


def _call(client: APIClient, method: str, url: str, body: dict[str, Any]) -> Any:
    if method == "get":
        query = {"workflow": body["workflow"], "workspace": body["workspace"]}
        return client.get(url, query)
    return getattr(client, method)(url, body, format="json")


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    """Alice owns A; Bob is an admin in A and an editor in B (his A key must not reach B);
    Carol owns B; Vic views A."""
    alice, bob, carol, vic = (UserFactory.create() for _ in range(4))
    a, b = _tenant(alice), _tenant(carol)
    membership_add(workspace=a.workspace, user=bob, role=Role.ADMIN)
    membership_add(workspace=b.workspace, user=bob, role=Role.EDITOR)
    membership_add(workspace=a.workspace, user=vic, role=Role.VIEWER)
    return {"a": a, "b": b, "alice": alice, "bob": bob, "vic": vic}


def test_the_matrix_covers_the_api():
    routes = {endpoint.route for endpoint in ENDPOINTS}

    assert "/api/v1/workflows/{pk}/" in routes
    assert "/api/v1/workflows/{pk}/execute/" in routes
    assert "/api/v1/executions/{pk}/" in routes
    assert "/api/v1/workspaces/{workspace_id}/api-keys/{key_id}/" in routes
    assert "/api/v1/dead-letters/{pk}/replay/" in routes


def test_b_s_dead_letter_answers_a_exactly_as_a_missing_one_and_answers_b(world):
    a, b, alice = world["a"], world["b"], world["alice"]
    dead_letter = DeadLetter.objects.get(workspace=b.workspace)
    intruder, holder = _jwt(alice), _jwt(b.owner)
    missing = str(uuid.uuid4())

    for method, suffix in (("get", ""), ("post", "replay/"), ("post", "discard/")):
        theirs = getattr(intruder, method)(f"/api/v1/dead-letters/{dead_letter.pk}/{suffix}")
        absent = getattr(intruder, method)(f"/api/v1/dead-letters/{missing}/{suffix}")
        assert (theirs.status_code, theirs.json()) == (absent.status_code, absent.json())
        assert theirs.status_code == 404
    listed = intruder.get("/api/v1/dead-letters/").json()["results"]
    assert [row["id"] for row in listed] == [a.objects["deadletter"]]
    dead_letter.refresh_from_db()
    assert dead_letter.status == "pending"

    own = holder.get(f"/api/v1/dead-letters/{dead_letter.pk}/")
    assert own.status_code == 200
    assert own.json()["id"] == str(dead_letter.pk)
    assert own.json()["workspace"] == str(b.workspace.pk)


@pytest.mark.parametrize("how", ["jwt", "api_key", "oauth2"])
def test_a_member_of_a_cannot_reach_anything_of_b(world, how):
    a, b, alice, bob = world["a"], world["b"], world["alice"], world["bob"]
    actor, client = {
        "jwt": (alice, lambda: _jwt(alice)),
        "api_key": (bob, lambda: _api_key(bob, a.workspace)),
        "oauth2": (alice, lambda: _oauth(alice)),
    }[how]
    client = client()
    before, b_ids = snapshot(b.workspace), row_ids(b.workspace) | {str(b.owner.pk)}
    unbound = []

    for endpoint in ENDPOINTS:
        url, real = b.bind(endpoint)
        if not real:
            unbound.append(endpoint.route)
        for method in endpoint.methods:
            body = _body(b, actor)
            response = _call(client, method, url, body)
            where = f"{how} {method.upper()} {url} ({endpoint.route})"
            assert response.status_code < 500, where
            if endpoint.params:
                assert response.status_code in (403, 404), f"{where}: {response.status_code}"
            sent = set(url.split("/")) | {body["workspace"], body["workflow"]}
            leaked = {i for i in b_ids - sent if i in response.content.decode()}
            assert not leaked, f"{where} shows B's ids {leaked}"
            assert snapshot(b.workspace) == before, f"{where} changed B"
    if unbound:
        warnings.warn(f"no object of B to aim at for: {sorted(set(unbound))}", stacklevel=1)


@pytest.mark.parametrize("how", ["jwt", "oauth2"])
def test_a_viewer_cannot_change_anything(world, how):
    a, vic = world["a"], world["vic"]
    client = _jwt(vic) if how == "jwt" else _oauth(vic)
    before = snapshot(a.workspace)

    for endpoint in ENDPOINTS:
        url, real = a.bind(endpoint)
        for method in (m for m in endpoint.methods if m in WRITES):
            response = _call(client, method, url, _body(a, vic))
            where = f"{how} {method.upper()} {url} ({endpoint.route})"
            assert response.status_code < 500, where
            if endpoint.params and real:
                refusals = (403, 404) if endpoint.route.startswith(ADMINS_ONLY) else (403,)
                assert response.status_code in refusals, f"{where}: {response.status_code}"
            assert snapshot(a.workspace) == before, f"{where} changed A"
