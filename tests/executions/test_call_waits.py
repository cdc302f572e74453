"""flow.wait waiting for a call or an approval, with a real worker (beat inside)."""

from urllib.parse import urlsplit

from django.test import Client

from executions.models import Execution, NodeRun

from ..executing import create_workflow, execute, wait_status


def _graph(mode: str, **params) -> dict:
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        # A node BEFORE the wait can send the links on (as a notification would).
        {
            "id": "notify",
            "type": "data.set",
            "params": {
                "fields": {
                    "resume": "{{ execution.resume_url }}",
                    "approve": "{{ execution.approve_url }}",
                    "reject": "{{ execution.reject_url }}",
                }
            },
        },
        {"id": "hold", "type": "flow.wait", "params": {"mode": mode, **params}},
        {"id": "yes", "type": "flow.noop"},
        {"id": "no", "type": "flow.noop"},
        {"id": "late", "type": "flow.noop"},
    ]
    edges = [
        {"source": "start", "target": "notify"},
        {"source": "notify", "target": "hold"},
        {"source": "hold", "target": "yes"},
        {"source": "hold", "target": "no", "output": "rejected"},
        {"source": "hold", "target": "late", "output": "timeout"},
    ]
    return {"nodes": nodes, "edges": edges}


def _parked(api, mode: str, **params) -> tuple[str, dict[str, str]]:
    execution_id = execute(api, create_workflow(api, _graph(mode, **params)))
    assert wait_status(execution_id, ("waiting", "failed")) == "waiting"
    notify = NodeRun.objects.get(execution_id=execution_id, node_id="notify")
    links = notify.output["main"][0]
    return execution_id, {name: urlsplit(url).path for name, url in links.items()}


def _ran(execution_id: str, node_id: str) -> NodeRun:
    return NodeRun.objects.filter(execution_id=execution_id, node_id=node_id).latest("attempt")


def test_a_call_of_the_resume_url_resumes_with_its_body_once(celery_worker, api):
    execution_id, links = _parked(api, "call", expires_after_seconds=600)
    assert links["resume"].startswith("/webhooks/wait/")
    caller = Client()

    first = caller.post(links["resume"], {"answer": 42}, content_type="application/json")
    assert first.status_code == 202
    assert first["Content-Security-Policy"].startswith("sandbox")
    assert wait_status(execution_id) == "succeeded"
    assert _ran(execution_id, "hold").output == {"main": [{"answer": 42}]}
    assert _ran(execution_id, "yes").status == "succeeded"

    second = caller.post(links["resume"], {"answer": 43}, content_type="application/json")
    assert second.status_code == 410
    assert second.json()["error"]["code"] == "wait_not_waiting"
    assert _ran(execution_id, "hold").output == {"main": [{"answer": 42}]}


def test_a_forged_or_altered_token_is_refused_and_resumes_nothing(celery_worker, api):
    execution_id, links = _parked(api, "call", expires_after_seconds=600)
    execution_part, signature = links["resume"].rsplit(":", 1)
    altered = f"{execution_part}:{signature[:-2]}xx"
    forged = f"/webhooks/wait/{execution_id}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    for path in (altered, forged):
        assert Client().post(path, {}, content_type="application/json").status_code == 404
    assert Execution.objects.get(pk=execution_id).status == "waiting"


def test_nobody_calling_by_the_expiry_leaves_by_timeout_and_the_url_is_gone(celery_worker, api):
    execution_id, links = _parked(api, "call", expires_after_seconds=1)
    assert wait_status(execution_id) == "succeeded"
    assert _ran(execution_id, "late").status == "succeeded"
    assert _ran(execution_id, "yes").status == "skipped"
    late = Client().post(links["resume"], {"x": 1}, content_type="application/json")
    assert late.status_code == 410


def test_the_approval_page_only_shows_on_get_and_a_post_approves(celery_worker, api):
    execution_id, links = _parked(api, "approval", expires_after_seconds=600)
    person = Client()

    page = person.get(links["approve"])
    assert page.status_code == 200
    assert b'<form method="post">' in page.content
    assert "script-src 'none'" in page["Content-Security-Policy"]
    assert "form-action 'self'" in page["Content-Security-Policy"]
    assert Execution.objects.get(pk=execution_id).status == "waiting"
    # The call URL does not answer an approval wait.
    assert person.post(links["resume"], {}, content_type="application/json").status_code == 410

    assert person.post(links["approve"]).status_code == 200
    assert wait_status(execution_id) == "succeeded"
    assert _ran(execution_id, "yes").status == "succeeded"
    assert _ran(execution_id, "no").status == "skipped"
    assert person.post(links["reject"]).status_code == 410


def test_a_rejection_goes_to_the_rejected_port(celery_worker, api):
    execution_id, links = _parked(api, "approval", expires_after_seconds=600)
    assert Client().post(links["reject"]).status_code == 200
    assert wait_status(execution_id) == "succeeded"
    assert _ran(execution_id, "no").status == "succeeded"
    assert _ran(execution_id, "hold").output["rejected"][0]["approval"] == {"decision": "reject"}


def test_a_timed_wait_or_a_retry_back_off_cannot_be_resumed_by_the_url(celery_worker, api):
    graph = _graph("time")
    graph["nodes"][2]["params"] = {"seconds": 600}
    execution_id = execute(api, create_workflow(api, graph))
    assert wait_status(execution_id, ("waiting",)) == "waiting"
    resume = urlsplit(_ran(execution_id, "notify").output["main"][0]["resume"]).path
    assert Client().post(resume, {}, content_type="application/json").status_code == 410
    assert Execution.objects.get(pk=execution_id).status == "waiting"


def test_a_deep_or_too_big_call_is_refused_and_the_wait_goes_on(celery_worker, api, settings):
    execution_id, links = _parked(api, "call", expires_after_seconds=600)
    settings.LINKFLOW_WEBHOOK_MAX_BYTES = 1000
    caller = Client()

    deep = caller.post(links["resume"], "[" * 300 + "]" * 300, content_type="application/json")
    big = caller.post(links["resume"], {"a": "x" * 2000}, content_type="application/json")

    assert (deep.status_code, deep.json()["error"]["code"]) == (400, "malformed_request")
    assert (big.status_code, big.json()["error"]["code"]) == (413, "payload_too_large")
    assert big.json()["error"]["details"] == {"max_bytes": 1000}
    assert Execution.objects.get(pk=execution_id).status == "waiting"
    assert (
        caller.post(links["resume"], {"ok": 1}, content_type="application/json").status_code == 202
    )
    assert wait_status(execution_id) == "succeeded"
