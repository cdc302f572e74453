"""Schemathesis holds every /api/v1 operation to the schema the API publishes.

The requests go in-process through ``linkflow.wsgi.application`` (the same stack gunicorn
serves), signed with the JWT of a user who owns a workflow, an execution and a credential,
so path ids point at real rows as well as at random ones. Every check schemathesis has
runs on every response: no 5xx; a documented status code, content type, headers and
body; what the schema calls valid is accepted and what it forbids is refused (400).

Deterministic and bounded: the coverage phase's boundary cases (null, wrong types, empty
and over-long strings, missing fields) plus a few derandomized examples per operation, in
both modes (schema-valid and schema-violating): about a thousand requests, well under the
two-minute budget on the CI machine.
"""

import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from credentials.services import credential_create
from executions.services import execution_create
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.wsgi import application
from workflows.services import workflow_create

from .executing import chain

# Refusals of schema-valid input that no OpenAPI schema can express: each is a rule over
# the database or the clock, answered 400 with its own code (and, for validation_error,
# the one field it names). Anything else a valid request gets refused for is a failure.
# docs/security/api-contract.md lists them with the reason for each.
BEYOND_SCHEMA: dict[tuple[str, str], set[tuple[str, str | None]]] = {
    # The engine's graph rules: node types and parameters, edges between existing nodes
    # and ports, no cycles, one trigger at least.
    # settings.error_workflow must be a workflow of the same workspace.
    ("POST", "/api/v1/workflows/"): {
        ("workflow_graph_invalid", None),
        ("validation_error", "settings"),
    },
    ("PUT", "/api/v1/workflows/{id}/"): {
        ("workflow_graph_invalid", None),
        ("validation_error", "settings"),
    },
    ("PATCH", "/api/v1/workflows/{id}/"): {
        ("workflow_graph_invalid", None),
        ("validation_error", "settings"),
    },
    # The node to re-run from must be a node of the version run; the current version must
    # have the trigger the execution started from (docs/api.md).
    ("POST", "/api/v1/executions/{id}/rerun/"): {
        ("validation_error", "from_node"),
        ("validation_error", "version"),
    },
    ("POST", "/api/v1/executions/{id}/retry/"): {("validation_error", "version")},
    # A repeated Idempotency-Key must come with the body it was first used with (422).
    ("POST", "/api/v1/workflows/{id}/execute/"): {("idempotency_key_reused", None)},
    # The editor's loop (docs/editor-loop.md): the graph's rules and a node of it; what is
    # stored (a snapshot, a pin) must be storable, and a pin is size-limited; a node must
    # have run in the execution it is debugged or previewed from.
    ("POST", "/api/v1/workflows/{workflow_id}/test/"): {
        ("workflow_graph_invalid", None),
        ("validation_error", "node"),
        ("validation_error", "graph"),
        ("validation_error", "input"),
    },
    ("POST", "/api/v1/workflows/{workflow_id}/test/plan/"): {
        ("workflow_graph_invalid", None),
        ("validation_error", "node"),
    },
    ("PUT", "/api/v1/workflows/{workflow_id}/pinned/{node_id}/"): {
        ("validation_error", "items"),
        ("validation_error", "node_id"),
    },
    ("POST", "/api/v1/executions/{execution_id}/debug/"): {("validation_error", "nodes")},
    ("POST", "/api/v1/expressions/preview/"): {("validation_error", "node")},
    # Only an existing account can be added to a workspace.
    ("POST", "/api/v1/workspaces/{workspace_id}/members/"): {("validation_error", "email")},
    # An expiry must be in the future.
    ("POST", "/api/v1/workspaces/{workspace_id}/api-keys/"): {("validation_error", "expires_at")},
    # A credential's fields depend on its type (GET /credentials/types/); names are unique
    # in a workspace.
    ("POST", "/api/v1/credentials/"): {("validation_error", "data"), ("validation_error", "name")},
    ("PUT", "/api/v1/credentials/{id}/"): {
        ("validation_error", "data"),
        ("validation_error", "name"),
    },
    ("PATCH", "/api/v1/credentials/{id}/"): {
        ("validation_error", "data"),
        ("validation_error", "name"),
    },
    # Only a connect link this server issued, unused and unexpired, completes the flow; only
    # an oauth2_client credential has one.
    ("GET", "/api/v1/credentials/oauth2/callback"): {("oauth2_state_invalid", None)},
    ("GET", "/api/v1/credentials/{id}/oauth2/connect/"): {("oauth2_not_applicable", None)},
    # An export must be a workflow of its format (a name and a graph; n8n's nodes and
    # connections), named by the field at fault inside the document.
    ("POST", "/api/v1/workflows/import/"): {
        ("validation_error", "document"),
        ("validation_error", "name"),
        ("validation_error", "graph"),
        ("workflow_graph_invalid", None),
    },
}


def positive_data_acceptance_within_business_rules(ctx: Any, response: Any, case: Any) -> None:
    """positive_data_acceptance, except for the refusals listed in BEYOND_SCHEMA."""
    try:
        positive_data_acceptance(ctx, response, case)
    except Failure:
        if not _beyond_schema(case, response):
            raise


def _beyond_schema(case: Any, response: Any) -> bool:
    allowed = BEYOND_SCHEMA.get((case.method.upper(), case.path), set())
    if response.status_code not in (400, 422) or not allowed:
        return False
    error = json.loads(response.content)["error"]
    if error["code"] != "validation_error":
        return (error["code"], None) in allowed
    return all(("validation_error", _top(field)) in allowed for field in error["details"])


def _top(field: str) -> str:
    """``document.nodes[4].name`` -> ``document``: a field inside the document names it."""
    return field.split(".", 1)[0].split("[", 1)[0]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance_within_business_rules,
    use_after_free,
    ensure_resource_availability,
    ignored_auth,
]


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """Requests run on this test's connection and transaction, as Django's test client does:
    otherwise the request signals would close the connection mid-test."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def known_ids(owner: User) -> dict[str, str]:
    """Real rows of the owner, to put into path parameters."""
    workspace = workspace_ensure_personal(user=owner)
    workflow = workflow_create(
        user=owner,
        workspace=workspace,
        name="fuzzed",
        description="",
        graph=chain({"id": "set", "type": "data.set", "params": {"fields": {"a": 1}}}),
    )
    execution = execution_create(user=owner, workflow=workflow, trigger_input={}, mode="api")
    credential = credential_create(
        user=owner,
        workspace=workspace,
        name="fuzzed",
        type="http_bearer",
        data={"token": "fuzzed-token"},
    )
    return {
        "/api/v1/workflows/": str(workflow.pk),
        "/api/v1/executions/": str(execution.pk),
        "/api/v1/credentials/": str(credential.pk),
        "/api/v1/workspaces/": str(workspace.pk),
    }


def _load_schema() -> Any:
    # What /api/v1/schema/ serves, built without a request so that collecting the tests
    # needs no database; the calls then go through the WSGI application.
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    loaded.app = application
    loaded.config.generation.modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    # An unknown query parameter is ignored, as HTTP APIs do (cache busters, tracking);
    # OpenAPI has no way to say a request may carry none, so none is generated.
    loaded.config.generation.allow_extra_parameters = False
    loaded.config.phases.coverage.enabled = False
    loaded.config.phases.examples.enabled = False
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_to_its_schema_and_never_5xx(
    case: Any, owner: User, known_ids: dict[str, str], in_test_transaction: None
) -> None:
    _aim_at_real_rows(case, known_ids)
    token = RefreshToken.for_user(owner).access_token
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def _aim_at_real_rows(case: Any, known_ids: dict[str, str]) -> None:
    # Every other example targets the owner's rows, so more than "not found" is exercised;
    # never for DELETE, which would take the rows away from the examples that follow. A
    # stable hash (str hashes change per process) keeps the run deterministic.
    # Nor for a schema-violating case: its path may be the part meant to be wrong.
    negative = case.meta is not None and not case.meta.generation.mode.is_positive
    if case.method.upper() == "DELETE" or not case.path_parameters or negative:
        return
    if zlib.crc32(repr(case.path_parameters).encode()) % 2:
        return
    for prefix, object_id in known_ids.items():
        if case.path.startswith(prefix):
            names = ("workspace_id", "workflow_id", "execution_id", "id")
            name = next((n for n in names if n in case.path_parameters), None)
            if name is not None:
                case.path_parameters[name] = object_id
