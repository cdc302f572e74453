"""File items through the API and a real worker (issue #12, point 13): a downloaded file
is offered for download (API and run view, per workspace), sent on as a file body, a
multipart part and through a sub-workflow (which gets its own copy), and a reference
forged to another execution's file is refused everywhere.
"""

from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from executions.models import Execution, NodeRun

from ..executing import chain, create_workflow, detail, execute, wait_status
from ..http_server import REPORT_BYTES, files_server

pytestmark = pytest.mark.django_db(transaction=True)


def fetch(base: str) -> dict[str, Any]:
    return {
        "id": "fetch",
        "type": "http.request",
        "params": {"url": f"{base}/report.pdf", "response_format": "file"},
    }


def upload(base: str, body: Any, body_type: str) -> dict[str, Any]:
    return {
        "id": "upload",
        "type": "http.request",
        "params": {
            "method": "POST",
            "url": f"{base}/upload",
            "body": body,
            "body_type": body_type,
        },
    }


def file_ref(execution_id: str) -> dict[str, Any]:
    run = NodeRun.objects.get(execution_id=execution_id, node_id="fetch")
    return run.output["main"][0]["body"]


def test_a_downloaded_file_is_sent_on_as_a_body_and_a_multipart_part(celery_worker, api):
    with files_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        multipart = {**upload(base, {"doc": "{{ json.body }}", "note": "q3"}, "multipart")}
        multipart["id"] = "form"
        graph = chain(fetch(base), upload(base, "{{ json.body }}", "file"))
        graph["nodes"].append(multipart)
        graph["edges"].append({"source": "fetch", "target": "form"})
        execution_id = execute(api, create_workflow(api, graph))
        status = wait_status(execution_id)
        uploads = sorted(server.uploads, key=lambda u: u[1])

    assert status == "succeeded", Execution.objects.get(pk=execution_id).error
    ref = file_ref(execution_id)
    assert ref["$file"].startswith(f"files/{execution_id}/")
    assert (ref["name"], ref["size"]) == ("report.pdf", len(REPORT_BYTES))
    [(_, plain_type, plain), (_, form_type, form)] = uploads
    assert (plain_type, plain) == ("application/pdf", REPORT_BYTES)
    assert form_type.startswith("multipart/form-data")
    assert b'name="doc"; filename="report.pdf"' in form and REPORT_BYTES in form
    assert b'name="note"\r\n\r\nq3' in form


def test_a_file_item_downloads_for_its_workspace_only(
    celery_worker, api, owner, outsider, client_for
):
    with files_server() as server:
        execution_id = execute(
            api, create_workflow(api, chain(fetch(f"http://127.0.0.1:{server.server_port}")))
        )
        assert wait_status(execution_id) == "succeeded"
    name = file_ref(execution_id)["$file"].rsplit("/", 1)[1]
    url = f"/api/v1/executions/{execution_id}/files/{name}"

    mine = api.get(url)
    theirs = client_for(outsider).get(url)
    guessed = api.get(f"/api/v1/executions/{execution_id}/files/{'0' * 32}-report.pdf")
    escaped = api.get(f"/api/v1/executions/{execution_id}/files/..%2F..%2Fpayloads")

    assert mine.status_code == 200
    assert b"".join(mine.streaming_content) == REPORT_BYTES
    assert mine["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert mine["Content-Type"] == "application/octet-stream"
    assert mine["X-Content-Type-Options"] == "nosniff"
    assert theirs.status_code == 404  # another tenant's file: as unknown as none
    assert theirs.json()["error"]["code"] == "not_found"
    assert guessed.status_code == 404 and escaped.status_code == 404


def test_the_run_view_links_the_file_for_download(celery_worker, api, owner):
    with files_server() as server:
        execution_id = execute(
            api, create_workflow(api, chain(fetch(f"http://127.0.0.1:{server.server_port}")))
        )
        assert wait_status(execution_id) == "succeeded"
    name = file_ref(execution_id)["$file"].rsplit("/", 1)[1]
    browser = Client()
    browser.force_login(owner)

    panel = browser.get(f"/executions/{execution_id}/nodes/fetch/").content.decode()
    download = browser.get(f"/api/v1/executions/{execution_id}/files/{name}")

    assert f'href="/api/v1/executions/{execution_id}/files/{name}"' in panel
    assert "Download report.pdf" in panel
    assert download.status_code == 200 and b"".join(download.streaming_content) == REPORT_BYTES


def test_a_reference_forged_to_another_executions_file_is_refused(
    celery_worker, api, outsider, client_for
):
    # The victim (another workspace) downloads a file; the attacker knows its key.
    victim = client_for(outsider)
    with files_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        stolen = execute(victim, create_workflow(victim, chain(fetch(base))))
        assert wait_status(stolen) == "succeeded"
        forged = file_ref(stolen)
        graph = chain(
            {"id": "forge", "type": "data.set", "params": {"fields": {"doc": forged}}},
            upload(base, "{{ json.doc }}", "file"),
        )
        attack = execute(api, create_workflow(api, graph))
        status = wait_status(attack)
        uploads = list(server.uploads)

    assert status == "failed"
    error = Execution.objects.get(pk=attack).error
    assert "is not one of this execution's files" in error["message"]
    assert uploads == []  # nothing of the victim's file left the platform
    name = forged["$file"].rsplit("/", 1)[1]
    assert api.get(f"/api/v1/executions/{attack}/files/{name}").status_code == 404


def test_a_sub_workflow_gets_its_own_copy_of_the_callers_file(celery_worker, api):
    with files_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        child_id = create_workflow(api, chain(upload(base, "{{ json.body }}", "file")), "child")
        graph = chain(
            fetch(base),
            {"id": "call", "type": "workflow.execute", "params": {"workflow": child_id}},
        )
        parent = execute(api, create_workflow(api, graph, "parent"))
        status = wait_status(parent)
        uploads = list(server.uploads)

    assert status == "succeeded", Execution.objects.get(pk=parent).error
    child = Execution.objects.get(parent_id=parent)
    handed = child.trigger_input["$items"][0]["body"]
    assert handed["$file"].startswith(f"files/{child.pk}/")  # the child's own copy
    assert handed["$file"] != file_ref(parent)["$file"]
    assert default_storage.exists(handed["$file"])
    assert [body for _, _, body in uploads] == [REPORT_BYTES]
    assert detail(api, str(child.pk))["status"] == "succeeded"


def test_a_rerun_reuses_the_file_as_its_own_copy_and_sends_it_again(celery_worker, api):
    with files_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        graph = chain(fetch(base), upload(base, "{{ json.body }}", "file"))
        first = execute(api, create_workflow(api, graph))
        assert wait_status(first) == "succeeded"
        response = api.post(
            f"/api/v1/executions/{first}/rerun", {"from_node": "upload"}, format="json"
        )
        assert response.status_code == 202, response.json()
        again = response.json()["id"]
        status = wait_status(again)
        uploads = [body for _, _, body in server.uploads]

    assert status == "succeeded", Execution.objects.get(pk=again).error
    reused = file_ref(again)
    assert reused["$file"].startswith(f"files/{again}/")  # not the first run's file
    assert uploads == [REPORT_BYTES, REPORT_BYTES]


def pin(api: Any, workflow_id: str, items: list[dict[str, Any]]) -> None:
    body = {"items": items}
    response = api.put(f"/api/v1/workflows/{workflow_id}/pinned/fetch", body, format="json")
    assert response.status_code == 200, response.json()


def test_a_pinned_file_feeds_a_test_run_a_pin_forged_to_another_tenant_does_not(
    celery_worker, api, outsider, client_for
):
    victim = client_for(outsider)
    with files_server() as server:
        base = f"http://127.0.0.1:{server.server_port}"
        graph = chain(fetch(base), upload(base, "{{ json.body }}", "file"))
        workflow_id = create_workflow(api, graph)
        production = execute(api, workflow_id)
        theirs = execute(victim, create_workflow(victim, chain(fetch(base))))
        assert [wait_status(e) for e in (production, theirs)] == ["succeeded"] * 2
        server.uploads.clear()

        pin(api, workflow_id, [{"body": file_ref(production)}])
        tested = api.post(f"/api/v1/workflows/{workflow_id}/test", {}, format="json").json()["id"]
        tested_status = wait_status(tested)
        pinned_uploads = [body for _, _, body in server.uploads]

        pin(api, workflow_id, [{"body": file_ref(theirs)}])
        forged = api.post(f"/api/v1/workflows/{workflow_id}/test", {}, format="json").json()["id"]
        forged_status = wait_status(forged)
        uploads_after = [body for _, _, body in server.uploads]

    assert tested_status == "succeeded", Execution.objects.get(pk=tested).error
    assert file_ref(tested)["$file"].startswith(f"files/{tested}/")
    assert pinned_uploads == [REPORT_BYTES]
    assert forged_status == "failed"
    assert (
        "is not one of this execution's files" in Execution.objects.get(pk=forged).error["message"]
    )
    assert file_ref(forged) == file_ref(theirs)  # left as it was: nothing copied
    assert uploads_after == [REPORT_BYTES]  # the forged run sent nothing
