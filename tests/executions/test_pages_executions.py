"""The execution list page over Django's test client: scoping, filters, paging, rows."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from executions.models import Execution
from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create

from ..conftest import signed_in_client
from ..executing import chain

pytestmark = pytest.mark.django_db


def _workflow(user, name):
    workspace = workspace_ensure_personal(user=user)
    return workflow_create(user=user, workspace=workspace, name=name, graph=chain())


def _execution(workflow, *, status="succeeded", mode="manual", minutes_ago=0):
    now = timezone.now() - timedelta(minutes=minutes_ago)
    return Execution.objects.create(
        workspace_id=workflow.workspace_id,
        workflow=workflow,
        version=workflow.current_version,
        status=status,
        mode=mode,
        queued_at=now,
        started_at=now,
        finished_at=now + timedelta(seconds=2) if status == "succeeded" else None,
    )


def _shown(response) -> set[str]:
    html = response.content.decode()
    return {str(e.pk) for e in Execution.objects.all() if f'data-execution="{e.pk}"' in html}


def test_empty_workspace_explains_how_to_run_a_first_workflow(owner):
    response = signed_in_client(owner).get("/executions/")
    assert response.status_code == 200
    assert "No executions yet" in response.content.decode()


def test_filters_narrow_the_list_to_the_current_workspace(owner, outsider, viewer):
    orders = _workflow(owner, "Orders")
    mails = _workflow(owner, "Mails")
    ok = _execution(orders)
    failed = _execution(orders, status="failed", mode="webhook")
    other = _execution(mails, mode="api")
    foreign = _execution(_workflow(outsider, "Theirs"))

    client = signed_in_client(viewer, orders.workspace)  # any member may read the list
    assert _shown(client.get("/executions/")) == {str(ok.pk), str(failed.pk), str(other.pk)}
    assert _shown(client.get(f"/executions/?workflow={orders.pk}")) == {str(ok.pk), str(failed.pk)}
    assert _shown(client.get("/executions/?status=failed")) == {str(failed.pk)}
    assert _shown(client.get("/executions/?mode=api")) == {str(other.pk)}
    # Another workspace's workflow is not a choice; the list is not leaked through it.
    response = client.get(f"/executions/?workflow={foreign.workflow_id}")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert str(foreign.pk) not in response.content.decode()


def test_time_range_is_on_the_start_time_and_bad_ranges_are_field_errors(owner):
    wf = _workflow(owner, "Orders")
    old = _execution(wf, minutes_ago=120)
    new = _execution(wf, minutes_ago=1)
    since = (timezone.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    client = signed_in_client(owner)
    assert _shown(client.get(f"/executions/?started_after={since}")) == {str(new.pk)}
    assert _shown(client.get(f"/executions/?started_before={since}")) == {str(old.pk)}

    response = client.get("/executions/?started_after=yesterday&status=bogus")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid date/time." in html and "Select a valid choice" in html
    response = client.get(f"/executions/?started_after={since}&started_before={since}")
    assert response.status_code == 400
    assert "Must be later than From." in response.content.decode()


def test_cursor_paging_walks_older_and_back(owner):
    wf = _workflow(owner, "Orders")
    made = [_execution(wf) for _ in range(5)][::-1]  # newest first, as the list orders
    client = signed_in_client(owner)
    first = client.get("/executions/?page_size=2")
    assert _shown(first) == {str(made[0].pk), str(made[1].pk)}
    older = first.context["next_url"]
    assert older.startswith("/executions/?") and "cursor=" in older
    second = client.get(older)
    assert _shown(second) == {str(made[2].pk), str(made[3].pk)}
    back = client.get(second.context["previous_url"])
    assert _shown(back) == {str(made[0].pk), str(made[1].pk)}
    # A cursor someone edited starts again from the newest rather than failing.
    broken = client.get("/executions/?page_size=2&cursor=nonsense")
    assert broken.status_code == 302 and "cursor" not in broken["Location"]


def test_htmx_request_gets_only_the_results(owner):
    _execution(_workflow(owner, "Orders"))
    response = signed_in_client(owner).get("/executions/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="executions-table"' in html and "<html" not in html


def test_rows_answers_only_matching_executions_of_the_workspace(owner, outsider):
    wf = _workflow(owner, "Orders")
    ok = _execution(wf)
    running = _execution(wf, status="running")
    foreign = _execution(_workflow(outsider, "Theirs"))
    client = signed_in_client(owner)
    ids = f"{ok.pk},{running.pk},{foreign.pk}"
    assert _shown(client.get(f"/executions/rows/?ids={ids}")) == {str(ok.pk), str(running.pk)}
    assert _shown(client.get(f"/executions/rows/?ids={ids}&status=running")) == {str(running.pk)}
    response = client.get("/executions/rows/?ids=not-a-uuid,,")
    assert response.status_code == 200 and _shown(response) == set()


def test_signed_out_visitor_is_sent_to_sign_in():
    response = Client().get("/executions/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
