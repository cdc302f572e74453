"""Through the API and a real worker: an expression over its bounds fails its node with the
bound error (node, parameter, item), never an internal error or a dead letter."""

import pytest

from executions.models import DeadLetter

from ..conftest import require_services
from ..executing import chain, create_workflow, detail, execute, wait_status

pytestmark = pytest.mark.timeout(120)

_BOUND = "Expression exceeds its bounds: "


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("{{ 2 ** 49000 }}", "the number would exceed 4096 bits."),
        (
            "{{ ([[0] * 1000] * 5000) | sum(start=[]) | length }}",
            "the result would hold more than 1000000 characters and values.",
        ),
    ],
)
def test_an_expression_over_its_bounds_fails_the_node_with_the_bound_error(
    celery_worker, api, expression, reason
):
    require_services()
    graph = chain({"id": "blow", "type": "data.set", "params": {"fields": {"n": expression}}})
    execution_id = execute(api, create_workflow(api, graph))

    assert wait_status(execution_id) == "failed"
    body = detail(api, execution_id)
    runs = {run["node_id"]: run for run in body["node_runs"]}
    error = {
        "message": f"Node 'blow', parameter 'params.fields.n', item 0: {_BOUND}{reason}",
        "node_id": "blow",
        "param": "params.fields.n",
        "position": 0,
        "item": 0,
    }
    assert runs["blow"]["status"] == "failed"
    assert runs["blow"]["error"] == error
    assert body["error"] == error
    assert not DeadLetter.objects.filter(execution_id=execution_id).exists()
