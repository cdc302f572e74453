"""GET /api/v1/node-types/: the catalog of node types with schemas and ports."""

import pytest

pytestmark = pytest.mark.django_db

LIBRARY = {
    "trigger.manual",
    "trigger.webhook",
    "trigger.schedule",
    "trigger.poll",
    "trigger.error",
    "flow.stop",
    "http.request",
    "data.set",
    "data.filter",
    "data.split",
    "data.aggregate",
    "flow.if",
    "flow.switch",
    "flow.merge",
    "flow.wait",
    "flow.noop",
    "code.python",
    "notify.email",
    "notify.slack",
    "webhook.respond",
    "workflow.execute",
}


def test_every_node_type_is_listed_with_its_schema_and_ports(api):
    response = api.get("/api/v1/node-types/")

    assert response.status_code == 200
    catalog = {entry["type"]: entry for entry in response.json()}
    assert set(catalog) >= LIBRARY
    assert catalog["flow.if"]["outputs"] == ["true", "false"]
    assert catalog["http.request"]["params_schema"]["properties"]["url"]
    assert catalog["trigger.webhook"]["is_trigger"] is True
    assert all(entry["label"] and entry["description"] for entry in catalog.values())


def test_every_node_type_carries_the_settings_schema_the_editor_builds_its_panel_from(api):
    catalog = api.get("/api/v1/node-types/").json()

    settings = catalog[0]["settings_schema"]
    assert set(settings["properties"]) == {
        "retry",
        "timeout_seconds",
        "on_error",
        "execute_once",
        "disabled",
        "notes",
    }
    assert settings["properties"]["execute_once"]["type"] == "boolean"
    assert set(settings["properties"]["retry"]["properties"]) == {
        "max_attempts",
        "backoff_seconds",
    }
    assert settings["properties"]["on_error"]["enum"] == ["fail", "continue", "error_output"]
    assert all(entry["settings_schema"] == settings for entry in catalog)


def test_the_catalog_needs_authentication(client):
    assert client.get("/api/v1/node-types/").status_code == 401


def test_the_catalog_says_which_credential_types_each_node_takes(api):
    catalog = {entry["type"]: entry for entry in api.get("/api/v1/node-types/").json()}

    assert catalog["notify.email"]["credential_types"] == ["smtp"]
    assert catalog["trigger.webhook"]["credential_types"] == ["webhook_auth"]
    assert catalog["db.postgres"]["credential_types"] == ["postgres"]
    assert catalog["data.set"]["credential_types"] == []
    workflow = catalog["workflow.execute"]["params_schema"]["properties"]["workflow"]
    assert workflow["x-linkflow-reference"] == "workflow"
