"""A secret handed to a sub-workflow stays redacted in everything the child stores and
shows, on whichever worker it runs (the attack of issue #10, section 3, replayed).

The parent calls an echo server with a header credential, a code node copies the echoed
header into an item in its common derived forms (base64, basic auth, percent, hex, JSON)
and the secret reversed, and ``workflow.execute`` hands the item to a child whose code
turns the reversed copy back into the secret. Only the child's inherited secret set can
redact that one: the hand-off cannot recognise a reversed string.
"""

import json
from typing import Any

import pytest
from django.core.files.storage import default_storage

from credentials.redaction import REDACTED
from credentials.services import credential_create
from executions.models import Execution, NodeRun
from executions.running.payloads import payload_is_ref, payload_load
from linkflow.accounts.api_keys import api_key_create
from linkflow.accounts.services import workspace_ensure_personal

from ..conftest import wait_for
from ..executing import chain, create_workflow, detail, execute, wait_status
from ..http_server import headers_echo_server
from ..leaks import COPY_FORMS_CODE, SECRET, leaks
from .test_websocket_feed import feed, next_events, run, token

pytestmark = pytest.mark.django_db(transaction=True)

UNDO_CODE = """
src = items[0]
return [{"restored": src["reversed"][::-1], "seen": src}]
"""


def attack(api, owner, url: str, *, wait: bool) -> tuple[str, str]:
    """Run the parent; return (parent id, child id) once both finished."""
    credential = credential_create(
        workspace=workspace_ensure_personal(user=owner),
        name="echoed",
        type="http_header",
        data={"name": "X-Api-Key", "value": SECRET},
    )
    child_id = create_workflow(
        api,
        chain({"id": "undo", "type": "code.python", "params": {"code": UNDO_CODE}}),
        name="child",
    )
    parent_graph = chain(
        {
            "id": "call",
            "type": "http.request",
            "params": {"url": url},
            "credential": str(credential.pk),
        },
        {"id": "copy", "type": "code.python", "params": {"code": COPY_FORMS_CODE}},
        {"id": "hand", "type": "workflow.execute", "params": {"workflow": child_id, "wait": wait}},
    )
    parent = execute(api, create_workflow(api, parent_graph, name="parent"))
    assert wait_status(parent) == "succeeded", Execution.objects.get(pk=parent).error
    child = wait_for(
        lambda: Execution.objects.filter(parent_id=parent).values_list("pk", flat=True).first()
    )
    assert wait_status(str(child)) == "succeeded", Execution.objects.get(pk=child).error
    return parent, str(child)


def stored_runs(execution_id: str) -> list[dict[str, Any]]:
    rows = NodeRun.objects.filter(execution_id=execution_id).values(
        "node_id", "input", "output", "error"
    )
    return [
        {**row, "input": payload_load(row["input"]), "output": payload_load(row["output"])}
        for row in rows
    ]


def feed_of(execution_id: str, access: str) -> tuple[list[dict], dict]:
    """The whole event log replayed (after=0), then a late subscriber's snapshot."""

    async def scenario():
        replay = feed(f"/ws/executions/{execution_id}/?after=0&token={access}")
        assert (await replay.connect())[0]
        received: list[dict] = []
        while not received or received[-1]["type"] != "execution.finished":
            received.extend(await next_events(replay))
        await replay.disconnect()
        late = feed(f"/ws/executions/{execution_id}/?token={access}")
        assert (await late.connect())[0]
        snapshot = await late.receive_json_from(timeout=5)
        await late.disconnect()
        return received, snapshot

    return run(scenario)


@pytest.mark.parametrize("wait", [True, False], ids=["wait", "fire_and_forget"])
def test_a_secret_handed_to_a_sub_workflow_is_redacted_everywhere_the_child_keeps_it(
    start_worker, api, owner, viewer, client_for, wait
):
    # Small inline limit: the items go to payload files, which must be redacted too.
    start_worker(LINKFLOW_PAYLOAD_INLINE_MAX_BYTES="200")
    with headers_echo_server() as url:
        parent, child = attack(api, owner, url, wait=wait)

    # The child's trigger input: the hand-off redacted every form (the reversed copy is
    # not recognisable as the secret, and goes through).
    execution = Execution.objects.get(pk=child)
    handed = execution.trigger_input["$items"][0]
    assert leaks(execution.trigger_input) == []
    assert handed["raw"] == REDACTED
    assert handed["basic_offset_1"].count(REDACTED) == 1
    assert handed["reversed"] == SECRET[::-1]
    assert SECRET not in execution.inherited_secrets  # stored encrypted

    # Its NodeRuns, offloaded to payload files: the secret rebuilt by the child's code is
    # redacted with the set it inherited.
    runs = {run["node_id"]: run for run in stored_runs(child)}
    assert leaks(list(runs.values())) == []
    assert runs["undo"]["output"]["main"][0]["restored"] == REDACTED
    ref = NodeRun.objects.get(execution_id=child, node_id="undo").output
    assert payload_is_ref(ref)
    with default_storage.open(ref["$ref"], "rb") as stored:
        assert leaks(json.loads(stored.read())) == []

    # What a viewer and an executions:read key read over the API.
    workspace = workspace_ensure_personal(user=owner)
    _, key = api_key_create(user=owner, workspace=workspace, name="r", scopes=["executions:read"])
    reader = client_for(viewer)
    by_key = client_for(owner)
    by_key.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    for client in (reader, by_key):
        shown = detail(client, child)
        assert shown["id"] == child and len(shown["node_runs"]) == 2
        assert leaks(shown) == []

    # The live feed: its replayed event log and a late subscriber's snapshot.
    events, snapshot = feed_of(child, token(viewer))
    assert [e["type"] for e in events][-1] == "execution.finished"
    assert leaks(events) == []
    assert snapshot["type"] == "snapshot" and leaks(snapshot) == []

    # The parent, which used the credential itself, keeps no form either.
    assert leaks(stored_runs(parent)) == []
    assert leaks(Execution.objects.get(pk=parent).trigger_input) == []
