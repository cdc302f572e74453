"""The listening triggers reach the catalog API, the editor's palette and its credential
pickers from the registry, with no page code of theirs."""

import pytest

from workflows.editor import node_catalog
from workflows.models import Workflow

from ..conftest import signed_in_client
from .test_pages_editor import _workflow

pytestmark = pytest.mark.django_db

LISTENERS = {
    "trigger.redis": "redis",
    "trigger.amqp": "amqp",
    "trigger.mqtt": "mqtt",
    "trigger.nats": "nats",
}


def test_the_catalog_lists_each_listening_trigger_as_a_trigger_with_its_schema(api):
    catalog = {entry["type"]: entry for entry in api.get("/api/v1/node-types/").json()}

    for type_name in LISTENERS:
        assert catalog[type_name]["is_trigger"] is True
    assert catalog["trigger.amqp"]["params_schema"]["required"] == ["queue"]
    assert catalog["trigger.mqtt"]["params_schema"]["properties"]["qos"]["enum"] == [0, 1]


def test_the_editor_palette_offers_each_listening_trigger_with_its_credential_type(owner):
    workflow: Workflow = _workflow(owner)

    body = signed_in_client(owner).get(f"/workflows/{workflow.pk}/edit/").content.decode()
    credentials = {entry["type"]: entry["credential_types"] for entry in node_catalog()}

    for type_name, credential_type in LISTENERS.items():
        assert f'data-add-type="{type_name}"' in body
        assert credentials[type_name] == [credential_type]
