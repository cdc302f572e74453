"""The data, database, queue, storage and webhook-delivery nodes reach the catalog API, the
editor's palette and the credential types from the registry, with no page code of theirs."""

import pytest

from workflows.models import Workflow

from ..conftest import signed_in_client
from .test_pages_editor import _workflow

pytestmark = pytest.mark.django_db

NEW_TYPES = {
    "data.sort", "data.limit", "data.dedupe", "data.rename", "data.summarize", "data.compare",
    "data.datetime", "data.crypto", "data.html", "data.xml", "db.postgres", "db.mysql",
    "redis.command", "amqp.publish", "mqtt.publish", "nats.publish", "s3.object",
    "notify.webhook",
}  # fmt: skip
CREDENTIAL_TYPES = {"postgres", "mysql", "redis", "amqp", "mqtt", "nats", "s3", "hmac_key"}


def test_the_catalog_lists_each_new_node_with_its_schema_and_ports(api):
    catalog = {entry["type"]: entry for entry in api.get("/api/v1/node-types/").json()}

    assert set(catalog) >= NEW_TYPES
    assert catalog["data.compare"]["outputs"] == ["both", "only_left", "only_right", "different"]
    assert "query" in catalog["db.postgres"]["params_schema"]["properties"]


def test_the_editor_palette_offers_each_new_node(owner):
    workflow: Workflow = _workflow(owner)

    body = signed_in_client(owner).get(f"/workflows/{workflow.pk}/edit/").content.decode()

    for type_name in NEW_TYPES:
        assert f'data-add-type="{type_name}"' in body


def test_the_credential_types_include_the_server_connections_with_secrets_marked(api):
    response = api.get("/api/v1/credentials/types/")

    types = {entry["type"]: entry for entry in response.json()}
    assert set(types) >= CREDENTIAL_TYPES
    secret = {f["name"] for f in types["postgres"]["fields"] if f["secret"]}
    assert secret == {"password"}
    assert {f["name"] for f in types["s3"]["fields"] if f["secret"]} == {"secret_access_key"}
