"""The OpenAPI schema describes the whole API: it validates without a warning, it has every
/api/v1 route, and every operation documents its errors in the one error shape."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from linkflow.accounts.models import User

from .factories import PASSWORD

ERROR_REF = "#/components/schemas/Error"
WRITES = {"post", "put", "patch"}
# Served by the API but not operations of it.
NOT_IN_SCHEMA = {"schema", "docs"}
# Where the plan limits of billing apply: they document 402.
PLAN_LIMITED = {
    ("post", "/api/v1/workflows/"),
    ("put", "/api/v1/workflows/{id}/"),
    ("patch", "/api/v1/workflows/{id}/"),
    ("post", "/api/v1/workflows/{id}/execute/"),
    ("post", "/api/v1/executions/{id}/retry/"),
    ("post", "/api/v1/executions/{id}/rerun/"),
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "schema.yml"
    # The same command CI and operators run; it raises on any warning.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(Path(path).read_text())


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_schema_validates_without_warnings(schema: dict[str, Any]) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["paths"]


def test_schema_endpoint_serves_the_schema_without_signing_in(db: None) -> None:
    response = APIClient().get("/api/v1/schema/")

    assert response.status_code == 200
    assert b"/api/v1/workflows/" in response.content


def test_error_component_is_the_one_error_shape(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    error = components["Error"]
    body = components[error["properties"]["error"]["$ref"].rsplit("/", 1)[1]]

    assert error["required"] == ["error"]
    assert set(body["properties"]) == {"code", "message", "details"}
    assert set(body["required"]) == {"code", "message", "details"}


def test_every_api_route_appears_in_the_schema(schema: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in _operations(schema)}

    routes = set(_api_routes())

    assert routes, "found no /api/v1 routes"
    assert routes - documented == set()


def test_every_operation_documents_its_error_responses(schema: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in _operations(schema):
        for status in _expected_errors(method, path, operation):
            response = operation["responses"].get(str(status), {})
            ref = response.get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref") != ERROR_REF:
                missing.append(f"{method.upper()} {path} {status}")
    assert missing == []


def test_too_many_requests_documents_retry_after(schema: dict[str, Any]) -> None:
    for _, _, operation in _operations(schema):
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_filters_are_documented_on_the_lists_only(schema: dict[str, Any]) -> None:
    def query(method: str, path: str) -> set[str]:
        parameters = schema["paths"][path][method].get("parameters", [])
        return {p["name"] for p in parameters if p["in"] == "query"}

    assert query("get", "/api/v1/executions/") == {
        "workflow",
        "status",
        "mode",
        "started_after",
        "started_before",
        "cursor",
        "page_size",
    }
    assert query("get", "/api/v1/workflows/") == {"active", "search"}
    assert query("get", "/api/v1/executions/{id}/") == set()
    assert query("post", "/api/v1/executions/{id}/cancel/") == set()


def test_security_schemes_cover_every_way_to_authenticate(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]

    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyAuth"]["in"] == "header"
    assert schemes["apiKeyAuth"]["name"] == "X-API-Key"
    assert "authorizationCode" in schemes["oauth2"]["flows"]
    workflows = schema["paths"]["/api/v1/workflows/"]["get"]["security"]
    assert {"oauth2": ["workflows:read"]} in workflows
    assert {"apiKeyAuth": []} in workflows


def test_token_endpoint_answers_as_documented(owner: User) -> None:
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": owner.email, "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def _expected_errors(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    expected = {401, 429}
    if method in WRITES:
        expected.add(400)
    if operation.get("security") and operation["security"] != [{}]:
        expected |= {403}
        if "{" in path or method in WRITES:
            expected.add(404)
        if method in WRITES:
            expected.add(409)
    if (method, path) in PLAN_LIMITED:
        expected.add(402)
    return expected


def _api_routes() -> Iterator[tuple[str, str]]:
    """(method, OpenAPI path) of every route under /api/v1/, from the URL conf itself."""
    for prefix, pattern in _walk(get_resolver().url_patterns, ""):
        if not prefix.startswith("/api/v1/") or pattern.name in NOT_IN_SCHEMA:
            continue
        for method in _methods(pattern.callback):
            yield method, prefix


def _walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        path = prefix + _openapi_path(str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, path)
        else:
            yield ("/" + path.lstrip("/")), pattern


def _openapi_path(route: str) -> str:
    route = route.lstrip("^").rstrip("$").replace("/?", "/")
    route = re.sub(r"\(\?P<pk>[^)]*\)", "{id}", route)  # drf-spectacular names pk "id"
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _methods(callback: Any) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions is not None:
        return [method for method in actions if method != "head"]
    view_class = callback.view_class
    handlers = ("get", "post", "put", "patch", "delete")
    return [method for method in handlers if hasattr(view_class, method)]
