"""The dispatch statement (executions/starting/dispatch.py): one UPDATE that counts the held slots,
picks the oldest pending executions and moves them, on PostgreSQL and SQLite alike."""

from executions.models import Execution
from executions.starting.dispatch import dispatch_promote
from linkflow.accounts.models import Workspace

from ..executing import chain, create_workflow, execute

NOOP = {"id": "n1", "type": "data.set", "params": {"fields": {"a": 1}}}


def _workspace(user) -> object:
    return Workspace.objects.get(personal_owner=user).pk


def _statuses(ids: list[str]) -> list[str]:
    by_id = {str(pk): status for pk, status in Execution.objects.values_list("pk", "status")}
    return [by_id[i] for i in ids]


def test_promotion_fills_free_slots_oldest_first_and_never_past_the_window(api, owner, settings):
    # given a window of 2, filled, and two executions waiting behind it
    settings.LINKFLOW_DISPATCH_WINDOW = 2
    workflow_id = create_workflow(api, chain(NOOP))
    first, second, third, fourth = (execute(api, workflow_id) for _ in range(4))
    assert _statuses([first, second, third, fourth]) == ["queued", "queued", "pending", "pending"]
    # when one held slot turns out to be a test run (those hold no plan slot)
    Execution.objects.filter(pk=first).update(mode="test")
    moved = dispatch_promote(workspace_id=_workspace(owner))
    # then exactly the oldest pending one takes the free slot, stamped as dispatched
    assert moved == 1
    assert _statuses([second, third, fourth]) == ["queued", "queued", "pending"]
    assert Execution.objects.get(pk=third).dispatched_at is not None
    # and with the window full again nothing more moves (a negative LIMIT is no limit in
    # SQLite: a statement that let it through would dispatch the fourth)
    assert dispatch_promote(workspace_id=_workspace(owner)) == 0
    assert _statuses([fourth]) == ["pending"]
