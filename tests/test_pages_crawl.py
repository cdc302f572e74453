"""Every page a signed-in user can reach by following links answers without a server error,
whatever their role; and a viewer is offered no control that changes anything.

The pages are found by crawling from the header's entry points, so a page added later is
covered without editing this test.
"""

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlparse

import pytest
from django.test import Client

from credentials.services import credential_create
from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.models import Role, User, Workspace
from linkflow.accounts.services import membership_add, workspace_ensure_personal

from .conftest import signed_in_client
from .executing import create_workflow, execute
from .factories import UserFactory

pytestmark = pytest.mark.django_db

ENTRY_POINTS = (
    "/",
    "/workflows/",
    "/executions/",
    "/credentials/",
    "/usage/",
    "/workspace/members/",
    "/settings/api-keys/",
)
# Not pages of the web UI (other tests cover them), or pages that end the session.
SKIP_PREFIXES = ("/admin/", "/api/", "/oauth/", "/static/", "/media/", "/webhooks/", "/ws/")
SKIP_PATHS = ("/accounts/logout/",)
MAX_PAGES = 250
# What a viewer may still post: their own session, password and workspaces.
VIEWER_MAY_POST = (
    "/workspace/switch/",
    "/accounts/logout/",
    "/accounts/password/",
    "/workspace/new",
)

WEBHOOK_GRAPH = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "params": {"method": "POST"}},
        {"id": "shape", "type": "data.set", "params": {"fields": {"ok": True}}},
    ],
    "edges": [{"source": "hook", "target": "shape"}],
}


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.post_actions: list[str] = []
        self.confirms = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if values.get("hx-get"):  # partials a page loads (node panels, tables)
            self.links.append(values["hx-get"] or "")
        if tag == "form" and (values.get("method") or "get").lower() == "post":
            self.post_actions.append(values.get("action") or "")
        if tag in ("button", "form", "a") and "data-confirm" in values:
            self.confirms += 1
        for attribute in ("hx-post", "hx-put", "hx-patch", "hx-delete"):
            if values.get(attribute):
                self.post_actions.append(values[attribute] or "")


def _seed(owner: User, api: object) -> dict[str, str]:
    workspace = workspace_ensure_personal(user=owner)
    workflow_id = create_workflow(api, WEBHOOK_GRAPH, name="Orders in")  # type: ignore[arg-type]
    execution_id = execute(api, workflow_id, {"order": 1})  # type: ignore[arg-type]
    credential_create(
        workspace=workspace, name="Shop token", type="http_bearer", data={"token": "s3cr3t"}
    )
    api_key_create(user=owner, workspace=workspace, name="CI", scopes=["workflows:read"])
    return {
        "workspace": str(workspace.pk),
        "workflow": workflow_id,
        "execution": execution_id,
    }


def _member(owner: User, role: Role) -> User:
    if role == Role.OWNER:
        return owner
    user = UserFactory(email=f"{role}@example.com", password="pw")
    membership_add(workspace=workspace_ensure_personal(user=owner), user=user, role=role)
    return user


def _crawl(client: Client, seeds: dict[str, str]) -> dict[str, tuple[int, _PageParser]]:
    start = [
        *ENTRY_POINTS,
        f"/workflows/{seeds['workflow']}/",
        f"/workflows/{seeds['workflow']}/edit/",
        f"/executions/{seeds['execution']}/",
    ]
    queue, seen = deque(start), set(start)
    pages: dict[str, tuple[int, _PageParser]] = {}
    while queue and len(pages) < MAX_PAGES:
        path = queue.popleft()
        response = client.get(path)
        parser = _PageParser()
        if response.get("Content-Type", "").startswith("text/html"):
            parser.feed(response.content.decode())
        pages[path] = (response.status_code, parser)
        for href in parser.links:
            target = _same_site(href, base=path)
            if target and target not in seen:
                seen.add(target)
                queue.append(target)
    return pages


def _same_site(href: str, *, base: str) -> str | None:
    href = urldefrag(href)[0]
    parsed = urlparse(href)
    if parsed.scheme or parsed.netloc or not href:
        return None
    if not href.startswith("/"):
        if href.startswith("?"):
            href = urlparse(base).path + href
        else:
            return None
    if href.startswith(SKIP_PREFIXES) or urlparse(href).path in SKIP_PATHS:
        return None
    return href


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.EDITOR, Role.VIEWER])
def test_no_page_answers_500_for_any_role(role, owner, api):
    seeds = _seed(owner, api)
    user = _member(owner, role)
    client = signed_in_client(user, raise_request_exception=False)
    client.post("/workspace/switch/", {"workspace": seeds["workspace"]})

    pages = _crawl(client, seeds)

    errors = {path: status for path, (status, _) in pages.items() if status >= 500}
    assert errors == {}
    reached = {path for path, (status, _) in pages.items() if status == 200}
    assert {"/workflows/", "/executions/", "/credentials/", "/usage/"} <= reached


def test_viewer_is_offered_no_control_that_changes_anything(owner, api):
    seeds = _seed(owner, api)
    viewer = _member(owner, Role.VIEWER)
    client = signed_in_client(viewer, raise_request_exception=False)
    client.post("/workspace/switch/", {"workspace": seeds["workspace"]})

    pages = _crawl(client, seeds)

    offered = {
        path: [action for action in parser.post_actions if not action.startswith(VIEWER_MAY_POST)]
        for path, (status, parser) in pages.items()
        if status == 200
    }
    assert {path: actions for path, actions in offered.items() if actions} == {}
    assert [path for path, (_, parser) in pages.items() if parser.confirms] == []
    assert Workspace.objects.filter(pk=seeds["workspace"]).exists()
