"""Schemathesis fuzzes every /api/v1 operation of the schema the API publishes.

The requests go in-process through ``linkflow.wsgi.application`` (the same stack gunicorn
serves), signed with the JWT of a user who owns a workflow and one of its executions, so
path ids point at real rows as well as at random ones. Every response must be no 5xx, a
documented status code and content type, and a body matching the documented schema.
Bounded: a few examples per operation, no shrinking beyond Hypothesis' defaults.
"""

import json
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
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from executions.services import execution_create
from linkflow.accounts.models import User
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.wsgi import application
from workflows.services import workflow_create

from .executing import chain

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Operations whose schema is known not to describe them yet (reported to their owner):
# held to "never 5xx" only, until their views are annotated.
SCHEMA_GAPS: set[tuple[str, str]] = set()


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
    return {
        "/api/v1/workflows/": str(workflow.pk),
        "/api/v1/executions/": str(execution.pk),
        "/api/v1/workspaces/": str(workspace.pk),
    }


def _load_schema() -> Any:
    # What /api/v1/schema/ serves, built without a request so that collecting the tests
    # needs no database; the calls then go through the WSGI application.
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    loaded.app = application
    # Random fuzzing only: the coverage phase's hundreds of boundary cases per operation
    # would take minutes, not seconds.
    loaded.config.phases.coverage.enabled = False
    loaded.config.phases.examples.enabled = False
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema_and_never_5xx(
    case: Any, owner: User, known_ids: dict[str, str], in_test_transaction: None
) -> None:
    _aim_at_real_rows(case, known_ids)
    token = RefreshToken.for_user(owner).access_token
    gap = (case.method.upper(), case.path) in SCHEMA_GAPS
    checks = [not_a_server_error] if gap else CHECKS
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)


def _aim_at_real_rows(case: Any, known_ids: dict[str, str]) -> None:
    # Every other example targets the owner's rows, so more than "not found" is exercised;
    # never for DELETE, which would take the rows away from the examples that follow.
    if case.method.upper() == "DELETE" or not case.path_parameters or hash(str(case)) % 2:
        return
    for prefix, object_id in known_ids.items():
        if case.path.startswith(prefix):
            name = "workspace_id" if "workspace_id" in case.path_parameters else "id"
            if name in case.path_parameters:
                case.path_parameters[name] = object_id
