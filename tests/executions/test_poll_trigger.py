"""trigger.poll with real workers (beat inside) on Redis and PostgreSQL, polling a local
HTTP server: only new items start runs, across polls and worker restarts, and the
seen-set stays bounded."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from executions.models import Execution
from executions.tasks import fire_schedule
from workflows.models import PollSeenKey, PollState

from ..conftest import stop_process, wait_for
from ..executing import create_workflow

FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>t</title>
{items}
</channel></rss>"""


class _Source(BaseHTTPRequestHandler):
    items: ClassVar[list[dict[str, Any]]] = []
    feed: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if self.path == "/feed":
            entries = "".join(
                f"<item><guid>{g}</guid><title>Post {g}</title></item>" for g in self.feed
            )
            body, kind = FEED.format(items=entries).encode(), "application/rss+xml"
        else:
            body, kind = json.dumps({"data": self.items}).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def _source() -> Iterator[str]:
    _Source.items, _Source.feed = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _poll_graph(url: str, **params: Any) -> dict[str, Any]:
    # Every minute, so a fire's slot is always current; the workers run without the beat,
    # so only the test fires.
    poll = {"cron": "* * * * *", "url": url, **params}
    return {
        "nodes": [
            {"id": "poll", "type": "trigger.poll", "params": poll},
            {"id": "noop", "type": "flow.noop"},
        ],
        "edges": [{"source": "poll", "target": "noop"}],
    }


def _active(api, workflow_id: str) -> str:
    response = api.patch(f"/api/v1/workflows/{workflow_id}/", {"active": True}, format="json")
    assert response.status_code == 200, response.json()
    return workflow_id


def _fire(workflow_id: str, polls_before: int) -> None:
    """Send one fire to the workers and wait until that poll is recorded."""
    fire_schedule.delay(workflow_id, "poll")
    wait_for(
        lambda: PollState.objects.filter(workflow_id=workflow_id, polls=polls_before + 1).exists(),
        what=f"poll {polls_before + 1}",
    )


def _started(workflow_id: str) -> list[dict[str, Any]]:
    rows = Execution.objects.filter(workflow_id=workflow_id).order_by("created_at")
    return [row.trigger_input for row in rows]


def test_only_new_items_start_runs_across_polls_and_a_worker_restart(start_worker, api):
    with _source() as base:
        workflow = _active(
            api,
            create_workflow(
                api, _poll_graph(f"{base}/items", items_path="data", key="id", first_poll="emit")
            ),
        )
        _Source.items = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
        first = start_worker(beat=False)
        _fire(workflow, 0)
        assert [i["id"] for i in _started(workflow)] == [1, 2]

        _Source.items = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]
        _fire(workflow, 1)
        assert [i["id"] for i in _started(workflow)] == [1, 2, 3]

        stop_process(first)  # the seen-set lives in the database, not in a process
        start_worker(beat=False)
        _Source.items = [{"id": 3, "v": "c"}, {"id": 4, "v": "d"}, {"id": 2, "v": "b"}]
        _fire(workflow, 2)
    assert _started(workflow) == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "b"},
        {"id": 3, "v": "c"},
        {"id": 4, "v": "d"},
    ]


def test_the_first_poll_only_remembers_by_default_and_feeds_are_read(start_worker, api):
    with _source() as base:
        workflow = _active(
            api, create_workflow(api, _poll_graph(f"{base}/feed", source="feed", key="id"))
        )
        _Source.feed = ["a", "b"]
        start_worker(beat=False)
        _fire(workflow, 0)
        assert _started(workflow) == []
        _Source.feed = ["c", "a", "b"]
        _fire(workflow, 1)
    assert _started(workflow) == [{"id": "c", "title": "Post c", "link": "c"}]


def test_the_seen_set_is_bounded_and_forgets_the_least_recently_seen(start_worker, api):
    with _source() as base:
        workflow = _active(
            api,
            create_workflow(
                api, _poll_graph(f"{base}/items", items_path="data", key="{{ json.id }}")
            ),
        )
        start_worker(beat=False, LINKFLOW_POLL_SEEN_LIMIT="3")
        _Source.items = [{"id": n} for n in range(5)]
        _fire(workflow, 0)
        assert PollSeenKey.objects.filter(workflow_id=workflow).count() == 3
        # Still in the source: seen again, so kept; the forgotten ones come back as new.
        _Source.items = [{"id": 0}]
        _fire(workflow, 1)
    assert PollSeenKey.objects.filter(workflow_id=workflow).count() == 3
    # Item 0 was forgotten (the limit kept the 3 seen last), so it is new again.
    assert _started(workflow) == [{"id": 0}]


def test_a_poll_of_a_refused_address_starts_and_marks_nothing(owner, settings, monkeypatch):
    """The poll's fetch goes through the guarded client: with private addresses refused
    (the default), a poll of a loopback URL is refused before connecting."""
    from django.utils import timezone

    from executions.running import host
    from executions.sources.polling import poll_fire
    from linkflow.accounts.services import workspace_ensure_personal
    from workflows.services import workflow_create

    settings.LINKFLOW_HTTP_ALLOW_PRIVATE = False
    settings.LINKFLOW_HTTP_ALLOW_HOSTS = []
    monkeypatch.setattr(host, "_client", None)  # a client built under this policy
    with _source() as base:
        _Source.items = [{"id": 1}]
        params = {"cron": "* * * * *", "url": f"{base}/items", "items_path": "data"}
        workflow = workflow_create(
            user=owner,
            workspace=workspace_ensure_personal(user=owner),
            name="p",
            graph=_poll_graph(params["url"], items_path="data", first_poll="emit"),
        )
        started = poll_fire(
            workflow=workflow,
            node_id="poll",
            params={**params, "first_poll": "emit"},
            slot=timezone.now(),
        )
    assert started == []
    assert not Execution.objects.filter(workflow=workflow).exists()
    assert not PollSeenKey.objects.filter(workflow=workflow).exists()
    monkeypatch.setattr(host, "_client", None)
