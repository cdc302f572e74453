"""The caller object carries what a credential allows, per request, never on the User.

Replays the attacks the confinement and the role cache defend against: a key of
workspace A reaching B, an operator's owner grant outliving its request or spreading to
another workspace, and two callers built on one User object leaking into each other.
"""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from linkflow.accounts.admin import operator_acting_in
from linkflow.accounts.api_keys import api_key_check, api_key_create
from linkflow.accounts.caller import Caller
from linkflow.accounts.models import Role, User, Workspace
from linkflow.accounts.scoping import SCOPES
from linkflow.accounts.selectors import require_writer, role_in, workspace_list
from linkflow.accounts.services import membership_add, workspace_create
from linkflow.core.errors import LinkflowError, NotFound
from workflows.models import Workflow
from workflows.selectors import workflow_get, workflow_list
from workflows.services import workflow_create, workflow_update

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

GRAPH = {"nodes": [{"id": "start", "type": "trigger.manual"}], "edges": []}


@pytest.fixture
def two_teams(owner):
    """``owner`` owns workspaces A and B, each with one workflow."""
    team_a = Workspace.objects.create(name="A")
    team_b = Workspace.objects.create(name="B")
    membership_add(workspace=team_a, user=owner, role=Role.OWNER)
    membership_add(workspace=team_b, user=owner, role=Role.OWNER)
    flow_a = workflow_create(user=owner, workspace=team_a, name="in A", graph=GRAPH)
    flow_b = workflow_create(user=owner, workspace=team_b, name="in B", graph=GRAPH)
    return team_a, team_b, flow_a, flow_b


def _raw_key(owner: User, workspace: Workspace) -> str:
    _, raw = api_key_create(user=owner, workspace=workspace, name="ci", scopes=list(SCOPES))
    return raw


def _key_caller(owner: User, workspace: Workspace) -> Caller:
    """The caller an API request with a fresh key of ``workspace`` gets."""
    key = api_key_check(raw_key=_raw_key(owner, workspace))
    return Caller.for_api_key(key)


def test_a_key_of_workspace_a_cannot_read_or_write_workspace_b(owner, two_teams):
    team_a, team_b, flow_a, flow_b = two_teams
    caller = _key_caller(owner, team_a)

    with pytest.raises(NotFound):
        workflow_get(user=caller, id=flow_b.pk)
    with pytest.raises(NotFound):
        require_writer(user=caller, workspace_id=team_b.pk)
    with pytest.raises(NotFound):
        workflow_update(user=caller, workflow=flow_b, changes={"name": "taken over"})

    assert list(workflow_list(user=caller)) == [flow_a]
    assert list(workspace_list(user=caller)) == [team_a]
    assert role_in(user=caller, workspace_id=team_b.pk) is None
    assert Workflow.objects.get(pk=flow_b.pk).name == "in B"


def test_two_keys_on_one_user_object_do_not_leak_into_each_other(owner, two_teams):
    team_a, team_b, flow_a, flow_b = two_teams
    key_a = api_key_check(raw_key=_raw_key(owner, team_a))
    key_b = api_key_check(raw_key=_raw_key(owner, team_b))
    key_b.created_by = user = key_a.created_by  # one User object behind both callers
    attributes_before = set(vars(user))

    in_a = Caller.for_api_key(key_a)
    in_b = Caller.for_api_key(key_b)

    assert in_a.user is in_b.user is user
    assert list(workflow_list(user=in_a)) == [flow_a]
    assert list(workflow_list(user=in_b)) == [flow_b]
    assert role_in(user=in_a, workspace_id=team_b.pk) is None
    assert role_in(user=in_b, workspace_id=team_b.pk) == Role.OWNER
    # The same user signed in as a person, or passed bare by a task, is unconfined.
    assert set(workflow_list(user=Caller.person(user))) == {flow_a, flow_b}
    assert set(workflow_list(user=user)) == {flow_a, flow_b}
    assert set(vars(user)) == attributes_before


def test_an_api_key_cannot_create_a_workspace(owner, two_teams):
    team_a, *_ = two_teams
    caller = _key_caller(owner, team_a)
    before = Workspace.objects.count()

    with pytest.raises(LinkflowError) as refused:
        workspace_create(user=caller, name="shadow")

    assert refused.value.code == "api_key_confined"
    assert Workspace.objects.count() == before
    assert workspace_create(user=Caller.person(owner), name="allowed").name == "allowed"


def test_successive_requests_with_different_keys_each_see_their_own_workspace(owner, two_teams):
    team_a, team_b, *_ = two_teams
    raw_a, raw_b = _raw_key(owner, team_a), _raw_key(owner, team_b)

    seen = []
    for raw in (raw_a, raw_b, raw_a):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        response = client.get("/api/v1/workflows/")
        assert response.status_code == 200, response.content
        seen.append({item["name"] for item in response.json()})

    assert seen == [{"in A"}, {"in B"}, {"in A"}]


def test_an_operator_acts_as_owner_only_in_the_named_workspace(two_teams):
    team_a, _, flow_a, flow_b = two_teams
    operator = UserFactory()
    request = RequestFactory().post("/admin/")
    request.user = operator

    acting = operator_acting_in(request, team_a.pk)

    workflow_update(user=acting, workflow=flow_a, changes={"name": "renamed by operator"})
    with pytest.raises(NotFound):
        workflow_update(user=acting, workflow=flow_b, changes={"name": "not here"})
    assert Workflow.objects.get(pk=flow_a.pk).name == "renamed by operator"
    assert Workflow.objects.get(pk=flow_b.pk).name == "in B"


def test_an_operators_grant_ends_with_its_caller(two_teams):
    team_a, _, flow_a, _ = two_teams
    operator = UserFactory()
    request = RequestFactory().post("/admin/")
    request.user = operator
    acting = operator_acting_in(request, team_a.pk)
    assert role_in(user=acting, workspace_id=team_a.pk) == Role.OWNER

    # The next request (or any other caller) on the very same User object is no member.
    later = Caller.person(operator)

    assert role_in(user=later, workspace_id=team_a.pk) is None
    assert role_in(user=operator, workspace_id=team_a.pk) is None
    with pytest.raises(NotFound):
        workflow_update(user=later, workflow=flow_a, changes={"name": "after the fact"})
    assert Workflow.objects.get(pk=flow_a.pk).name == "in A"


def test_a_role_read_once_is_reused_within_the_caller_only(
    owner, two_teams, django_assert_num_queries
):
    team_a, *_ = two_teams
    caller = Caller.person(owner)
    assert role_in(user=caller, workspace_id=team_a.pk) == Role.OWNER

    membership_add(workspace=team_a, user=owner, role=Role.VIEWER)

    with django_assert_num_queries(0):
        assert role_in(user=caller, workspace_id=team_a.pk) == Role.OWNER
    # A new caller (the next request) reads the demotion.
    assert role_in(user=Caller.person(owner), workspace_id=team_a.pk) == Role.VIEWER


def test_an_api_request_reads_the_callers_role_once_for_lookup_and_write(
    owner, two_teams, client_for
):
    _, _, flow_a, _ = two_teams
    client = client_for(owner)

    with CaptureQueriesContext(connection) as queries:
        response = client.patch(
            f"/api/v1/workflows/{flow_a.pk}/", {"name": "renamed"}, format="json"
        )

    assert response.status_code == 200, response.content
    # The role comes back with the workflow; the write's check finds it in the request's
    # caller instead of asking the memberships again.
    role_reads = [q["sql"] for q in queries if '"accounts_membership"' in q["sql"]]
    assert len(role_reads) == 1, role_reads
    assert Workflow.objects.get(pk=flow_a.pk).name == "renamed"


def test_a_workflow_lookup_carries_the_callers_own_role_among_several_members(owner, two_teams):
    team_a, _, flow_a, _ = two_teams
    viewer = UserFactory()
    membership_add(workspace=team_a, user=viewer, role=Role.VIEWER)
    stranger = UserFactory()

    as_viewer = Caller.person(viewer)
    seen = workflow_get(user=as_viewer, id=flow_a.pk)

    assert seen.pk == flow_a.pk
    assert role_in(user=as_viewer, workspace_id=team_a.pk) == Role.VIEWER
    with pytest.raises(LinkflowError):
        require_writer(user=as_viewer, workspace_id=team_a.pk)
    assert workflow_get(user=Caller.person(owner), id=flow_a.pk).caller_role == Role.OWNER
    with pytest.raises(NotFound):
        workflow_get(user=Caller.person(stranger), id=flow_a.pk)


def test_a_key_of_a_finds_no_workflow_of_b_its_user_also_owns(owner, two_teams):
    team_a, _, flow_a, flow_b = two_teams
    caller = _key_caller(owner, team_a)

    assert workflow_get(user=caller, id=flow_a.pk).pk == flow_a.pk
    with pytest.raises(NotFound):
        workflow_get(user=caller, id=flow_b.pk)
