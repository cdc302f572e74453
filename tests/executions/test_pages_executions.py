"""The execution list page over Django's test client: scoping, filters, paging, rows."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from executions.models import Execution

from ..conftest import signed_in_client
from ..executing import personal_workflow, recorded_execution

pytestmark = pytest.mark.django_db


def _shown(response) -> set[str]:
    html = response.content.decode()
    return {str(e.pk) for e in Execution.objects.all() if f'data-execution="{e.pk}"' in html}


def test_empty_workspace_explains_how_to_run_a_first_workflow(owner):
    response = signed_in_client(owner).get("/executions/")
    assert response.status_code == 200
    assert "No executions yet" in response.content.decode()


def test_filters_narrow_the_list_to_the_current_workspace(owner, outsider, viewer):
    orders = personal_workflow(owner, "Orders")
    mails = personal_workflow(owner, "Mails")
    ok = recorded_execution(orders)
    failed = recorded_execution(orders, status="failed", mode="webhook")
    other = recorded_execution(mails, mode="api")
    foreign = recorded_execution(personal_workflow(outsider, "Theirs"))

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
    wf = personal_workflow(owner, "Orders")
    old = recorded_execution(wf, minutes_ago=120)
    new = recorded_execution(wf, minutes_ago=1)
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
    wf = personal_workflow(owner, "Orders")
    made = [recorded_execution(wf) for _ in range(5)][::-1]  # newest first, as the list orders
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
    recorded_execution(personal_workflow(owner, "Orders"))
    response = signed_in_client(owner).get("/executions/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="executions-table"' in html and "<html" not in html


def test_rows_answers_only_matching_executions_of_the_workspace(owner, outsider):
    wf = personal_workflow(owner, "Orders")
    ok = recorded_execution(wf)
    running = recorded_execution(wf, status="running")
    foreign = recorded_execution(personal_workflow(outsider, "Theirs"))
    client = signed_in_client(owner)
    ids = f"{ok.pk},{running.pk},{foreign.pk}"
    assert _shown(client.get(f"/executions/rows/?ids={ids}")) == {str(ok.pk), str(running.pk)}
    assert _shown(client.get(f"/executions/rows/?ids={ids}&status=running")) == {str(running.pk)}
    response = client.get("/executions/rows/?ids=not-a-uuid,,")
    assert response.status_code == 200 and _shown(response) == set()


def test_signed_out_visitor_is_sent_to_sign_in():
    response = Client().get("/executions/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
