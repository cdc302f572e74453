"""The UI's pages and the API docs carry a strict CSP: scripts only from our own static files
or with the page's nonce (never 'unsafe-inline'), nothing from another host, and no inline
script or event-handler attribute in what they render."""

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create

from .conftest import signed_in_client


def directives(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


class _Tags(HTMLParser):
    """Every <script>, and every attribute that would run script, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_code: list[str] = []
        self.handlers: list[str] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.handlers += [f"{name}=javascript:" for name, value in attrs if _is_js_url(value)]
        if tag == "script":
            self.scripts.append(found)
            self._in_script = found

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        script = self._in_script
        if script is not None and data.strip() and script.get("type") != "application/json":
            self.inline_code.append(data.strip()[:80])


def _is_js_url(value: str | None) -> bool:
    return bool(value) and value.strip().lower().startswith("javascript:")  # type: ignore[union-attr]


def parsed(response: Any) -> _Tags:
    tags = _Tags()
    tags.feed(response.content.decode())
    return tags


@pytest.fixture
def pages(owner: Any) -> list[str]:
    workspace = workspace_ensure_personal(user=owner)
    graph = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}
    workflow = workflow_create(user=owner, workspace=workspace, name="w", graph=graph)
    return [
        "/workflows/",
        f"/workflows/{workflow.pk}/",
        f"/workflows/{workflow.pk}/edit/",
        "/executions/",
        "/credentials/",
        "/usage/",
        "/workspace/members/",
        "/settings/api-keys/",
        "/credentials/new/",
    ]


@pytest.mark.django_db
def test_every_ui_page_has_a_nonce_csp_and_no_inline_script(owner, pages):
    client = signed_in_client(owner)
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = directives(response)
        script_src = policy["script-src"]
        [nonce_source] = [s for s in script_src if s.startswith("'nonce-")]
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert "'unsafe-inline'" not in policy["style-src"]
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        tags = parsed(response)
        assert tags.inline_code == [], path
        assert tags.handlers == [], path
        nonce = nonce_source.removeprefix("'nonce-").removesuffix("'")
        executable = [s for s in tags.scripts if s.get("type") != "application/json"]
        assert executable, path
        for script in executable:
            assert script.get("src", "").startswith("/static/"), (path, script)
            assert script.get("nonce") == nonce, (path, script)


@pytest.mark.django_db
def test_the_operator_console_runs_no_inline_script(owner):
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    client = signed_in_client(owner)
    for path in ("/admin/", "/admin/executions/execution/", "/admin/workflows/workflow/"):
        response = client.get(path)

        assert response.status_code == 200, path
        assert "'unsafe-inline'" not in directives(response)["script-src"]
        tags = parsed(response)
        assert (tags.inline_code, tags.handlers) == ([], []), path
        assert all(s.get("src", "").startswith("/") for s in tags.scripts), path


@pytest.mark.django_db
def test_each_page_gets_its_own_nonce(owner):
    client = signed_in_client(owner)

    first = directives(client.get("/workflows/"))["script-src"]
    second = directives(client.get("/workflows/"))["script-src"]

    assert first != second


@pytest.mark.django_db
def test_the_sign_in_page_is_under_the_csp_too():
    response = Client().get("/accounts/login/")

    assert response.status_code == 200
    assert "'unsafe-inline'" not in directives(response)["script-src"]
    assert parsed(response).inline_code == []


def test_the_api_docs_load_swagger_ui_from_our_static_path_under_the_csp(client):
    page = client.get("/api/v1/docs/")

    assert page.status_code == 200
    policy = directives(page)
    assert "'unsafe-inline'" not in policy["script-src"]
    tags = parsed(page)
    assert tags.inline_code == []
    assert "<style" not in page.content.decode()  # style-src refuses inline styles
    sources = [script["src"] for script in tags.scripts]
    assert sources[:2] == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
    ]
    assert sources[2] == "/api/v1/docs/?script="
    links = re.findall(r'(?:href|src)="([^"]+)"', page.content.decode())
    assert links and all(link.startswith("/") for link in links), links
    for asset in [*sources[:2], *(link for link in links if link.startswith("/static/"))]:
        assert client.get(asset).status_code == 200, asset
    start = client.get(sources[2])
    assert start.status_code == 200
    assert start["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in start.content
