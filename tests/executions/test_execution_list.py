"""GET /api/v1/executions/: the filters users use, followed page by page by the cursor.

The list is keyset-paginated (newest first, id breaking ties): every page after the first
starts where the last one ended, so rows inserted meanwhile neither repeat nor push rows
off, and the caller sees its own workspaces' executions only, whatever the cursor says.
"""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from executions.models import Execution
from linkflow.accounts.models import Role
from linkflow.accounts.services import membership_add, workspace_create

from ..factories import UserFactory
from ..graphs import pure_graph

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _workflow(api: Any, name: str = "w", workspace: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "graph": pure_graph()}
    if workspace:
        body["workspace"] = workspace
    response = api.post("/api/v1/workflows/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _execution(api: Any, workflow_id: str, *, minutes: float, status: str = "succeeded") -> str:
    """An execution created ``minutes`` after BASE, started a second later."""
    execution_id = api.post(f"/api/v1/workflows/{workflow_id}/execute").json()["id"]
    at = BASE + timedelta(minutes=minutes)
    Execution.objects.filter(pk=execution_id).update(
        created_at=at, started_at=at + timedelta(seconds=1), status=status
    )
    return execution_id


def _walk(api: Any, params: dict[str, Any], *, between_pages: Any = None) -> list[list[str]]:
    """Every page's ids, following ``next`` to the end; ``between_pages`` runs after the
    first page."""
    pages = []
    response = api.get("/api/v1/executions/", params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        if between_pages is not None and len(pages) == 1:
            between_pages()
        if not body["next"]:
            return pages
        response = api.get(body["next"])


def _flat(pages: list[list[str]]) -> list[str]:
    return [row for page in pages for row in page]


def _newest_first(ids: list[str]) -> list[str]:
    rows = Execution.objects.filter(pk__in=ids).order_by("-created_at", "-id")
    return [str(pk) for pk in rows.values_list("pk", flat=True)]


def test_pages_visit_every_execution_once_in_order_even_when_times_tie(api):
    workflow_id = _workflow(api)
    ids = [_execution(api, workflow_id, minutes=n) for n in range(5)]
    # Four executions created in the same microsecond: the id orders them, and a page
    # boundary falling among them must neither repeat nor skip one.
    tied = [_execution(api, workflow_id, minutes=10) for _ in range(4)]

    pages = _walk(api, {"page_size": 3})

    assert [len(page) for page in pages] == [3, 3, 3]
    assert _flat(pages) == _newest_first(ids + tied)


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        ({"status": "cancelled"}, lambda e: e["status"] == "cancelled"),
        ({"status": "failed"}, lambda e: e["status"] == "failed"),
        ({"workflow": "quiet"}, lambda e: e["workflow"] == "quiet"),
        ({"workflow": "busy", "status": "failed"}, lambda e: e["status"] == "failed"),
        # started_after inclusive, started_before exclusive: minute 4 starts at 4:01.
        (
            {"started_after": 4, "started_before": 9},
            lambda e: 4 <= e["minutes"] < 9 and e["workflow"] != "never",
        ),
    ],
    ids=["rare-status", "status", "workflow", "workflow-and-status", "time-range"],
)
def test_each_filter_pages_through_exactly_its_executions(api, params, wanted):
    flows = {"busy": _workflow(api, "busy"), "quiet": _workflow(api, "quiet")}
    made = []
    for n in range(12):
        flow = "quiet" if n % 4 == 0 else "busy"
        status = "cancelled" if n in (3, 7) else "failed" if n % 3 == 0 else "succeeded"
        made.append(
            {
                "id": _execution(api, flows[flow], minutes=n, status=status),
                "workflow": flow,
                "status": status,
                "minutes": n,
            }
        )
    # Queued but never started: no time range may list it.
    never = api.post(f"/api/v1/workflows/{flows['busy']}/execute").json()["id"]
    made.append({"id": never, "workflow": "never", "status": "queued", "minutes": -1})
    query = dict(params)
    if "workflow" in query:
        query["workflow"] = flows[query["workflow"]]
    for bound in ("started_after", "started_before"):
        if bound in query:
            query[bound] = (BASE + timedelta(minutes=query[bound], seconds=1)).isoformat()
    if params.get("workflow") == "busy":
        made = [e for e in made if e["workflow"] in ("busy", "never")]

    pages = _walk(api, {**query, "page_size": 2})

    expected = _newest_first([e["id"] for e in made if wanted(e)])
    assert expected, "the case must list something"
    assert _flat(pages) == expected
    assert all(len(page) <= 2 for page in pages)


def test_executions_inserted_between_pages_neither_repeat_nor_push_rows_off(api):
    workflow_id = _workflow(api)
    before = [_execution(api, workflow_id, minutes=n) for n in range(7)]
    added = []

    def meanwhile() -> None:
        # New executions arrive while the caller reads page one (newer than all, and one
        # in the middle of the already-listed range, as a clock-skewed host could insert).
        added.extend(
            api.post(f"/api/v1/workflows/{workflow_id}/execute").json()["id"] for _ in range(3)
        )
        added.append(_execution(api, workflow_id, minutes=5.5))

    pages = _walk(api, {"page_size": 3}, between_pages=meanwhile)
    listed = _flat(pages)

    assert len(listed) == len(set(listed))
    assert set(before) <= set(listed)
    assert listed[:3] == _newest_first(before)[:3]
    assert not set(added[:3]) & set(listed), "rows newer than page one belong to a new first page"


def test_another_tenants_executions_never_show_on_any_page(api, outsider, client_for):
    mine = _workflow(api)
    my_ids = [_execution(api, mine, minutes=n) for n in range(4)]
    other = client_for(outsider)
    theirs = _workflow(other, "theirs")
    their_ids = [_execution(other, theirs, minutes=n + 0.5) for n in range(4)]

    my_pages = _flat(_walk(api, {"page_size": 2}))
    # Asking by their workflow id, or by status, still lists nothing of theirs.
    by_their_workflow = _flat(_walk(api, {"workflow": theirs, "page_size": 2}))
    their_pages = _flat(_walk(other, {"page_size": 2}))

    assert my_pages == _newest_first(my_ids)
    assert by_their_workflow == []
    assert their_pages == _newest_first(their_ids)


def test_a_cursor_taken_from_another_tenant_lists_only_the_callers_rows(api, outsider, client_for):
    mine = _workflow(api)
    my_ids = [_execution(api, mine, minutes=n) for n in range(4)]
    other = client_for(outsider)
    theirs = _workflow(other, "theirs")
    [_execution(other, theirs, minutes=n + 0.5) for n in range(4)]
    their_next = other.get("/api/v1/executions/", {"page_size": 1}).json()["next"]

    replayed = api.get(their_next)

    assert replayed.status_code == 200
    listed = [row["id"] for row in replayed.json()["results"]]
    assert listed and set(listed) <= set(my_ids)


def test_a_member_of_two_workspaces_pages_through_both_in_one_order(api, owner, client_for):
    shared = workspace_create(user=owner, name="shared")
    mine = _workflow(api)
    in_shared = _workflow(api, "s", workspace=str(shared.pk))
    ids = [_execution(api, mine if n % 2 else in_shared, minutes=n) for n in range(6)]
    # A viewer of the shared workspace only sees just its rows (and their own: none).
    viewer = UserFactory.create()
    membership_add(workspace=shared, user=viewer, role=Role.VIEWER)

    assert _flat(_walk(api, {"page_size": 4})) == _newest_first(ids)
    assert _flat(_walk(client_for(viewer), {"page_size": 4})) == _newest_first(ids[0::2])


def test_a_forged_cursor_answers_404_not_500(api):
    workflow_id = _workflow(api)
    _execution(api, workflow_id, minutes=0)
    forged = base64.b64encode(b"o=not-a-number&p=2026").decode()

    response = api.get("/api/v1/executions/", {"cursor": forged})

    assert response.status_code == 404
    assert Execution.objects.count() == 1


def _plan_nodes(plan: dict[str, Any], key: str = "Node Type") -> list[str]:
    children = (n for child in plan.get("Plans", []) for n in _plan_nodes(child, key))
    return [*([plan[key]] if key in plan else []), *children]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"workflow": "w"},
        {"status": "cancelled"},
        {"workflow": "w", "status": "failed"},
        {"started_after": -1, "started_before": 60},
        {"status": "failed", "started_after": -1},
    ],
    ids=["all", "workflow", "status", "workflow-and-status", "time-range", "since-and-status"],
)
def test_postgres_reads_a_page_from_an_index_in_list_order_without_sorting(api, params):
    """At a million rows a page is cheap only if PostgreSQL walks an index in the list's
    order and stops after the page: with sorting priced out, a plan that still sorts
    means no index matches the filter and the order (or the scope became a subquery)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("the query plan is PostgreSQL's")
    workflow_id = _workflow(api)
    first = _execution(api, workflow_id, minutes=0)
    _execution(api, workflow_id, minutes=1)
    query = {k: workflow_id if k == "workflow" else v for k, v in params.items()}
    for bound in ("started_after", "started_before"):
        if bound in query:
            query[bound] = (BASE + timedelta(minutes=query[bound])).isoformat()
    cursor_page = api.get("/api/v1/executions/", {**query, "page_size": 1}).json()["next"]

    for url, data in (("/api/v1/executions/", query), (cursor_page, None)):
        if url is None:
            continue
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url, data).status_code == 200
        (sql,) = [
            q["sql"]
            for q in captured.captured_queries
            if 'FROM "executions_execution"' in q["sql"] and "LIMIT" in q["sql"]
        ]
        assert "accounts_membership" not in sql
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]["Plan"]
        nodes = _plan_nodes(plan)
        assert not [n for n in nodes if "Sort" in n], (params, nodes)
        if "started_after" in params:
            # Bounded by the range's creation span: one month's partition, not all of them.
            months = {r for r in _plan_nodes(plan, "Relation Name") if "execution_" in r}
            assert len(months) == 1, months
    assert Execution.objects.filter(pk=first).exists()


def test_postgres_reads_a_time_ranges_creation_span_from_the_index_alone(api):
    """The span of a range (selectors._within_created_span) is read once per page; at a
    million rows it is a week's worth of index entries, cheap only when no entry costs a
    visit to the table (counting a column the index lacks made each one a heap fetch)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("the query plan is PostgreSQL's")
    workflow_id = _workflow(api)
    _execution(api, workflow_id, minutes=0)
    since = {"started_after": (BASE - timedelta(minutes=1)).isoformat()}

    with CaptureQueriesContext(connection) as captured:
        assert api.get("/api/v1/executions/", {**since, "status": "failed"}).status_code == 200
    (sql,) = [q["sql"] for q in captured.captured_queries if "MIN(" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        # Every way in but an index-only scan priced out: a plan that must visit the
        # table falls back to one of them.
        for plan_kind in ("seqscan", "indexscan", "bitmapscan"):
            cursor.execute(f"SET LOCAL enable_{plan_kind} = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0][0]["Plan"]
    scans = {n for n in _plan_nodes(plan) if "Scan" in n}
    assert scans == {"Index Only Scan"}, scans
