"""File items sent on by notify.email (issue #12, point 13), engine only: attachments are
read through the host's file store, which knows only its own execution's files."""

from __future__ import annotations

from typing import Any

from linkflow.engine import Graph, NullObserver, RunContext, RunResult, run_graph

from .test_engine_notify import SMTP, RecordingMailer

REPORT = b"%PDF-1.7 report"


class OneExecutionFiles:
    """The file store of one execution: reads only the keys it saved."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def save(self, *, name: str, content: bytes, content_type: str) -> dict[str, Any]:
        key = f"files/ex-1/{len(self.files)}-{name}"
        self.files[key] = content
        return {"$file": key, "name": name, "size": len(content), "content_type": content_type}

    def read(self, *, ref: dict[str, Any], limit: int) -> bytes:
        if ref.get("$file") not in self.files:
            raise KeyError("not a file of this execution")
        return self.files[ref["$file"]]


def mail_with(
    attachments: Any, trigger_input: dict[str, Any], files: Any
) -> tuple[RunResult, RecordingMailer]:
    params = {"to": "ada@example.com", "subject": "Report", "text": "Attached."}
    node = {
        "id": "mail",
        "type": "notify.email",
        "credential": "c",
        "params": {**params, "attachments": attachments},
    }
    graph = Graph.from_dict(
        {
            "nodes": [{"id": "start", "type": "trigger.manual"}, node],
            "edges": [{"source": "start", "target": "mail"}],
        }
    )
    mailer = RecordingMailer()
    run = RunContext(
        execution={"id": "ex-1", "mode": "manual"},
        trigger_input=trigger_input,
        credentials=lambda cid: SMTP,
        mailer=mailer,
        files=files,
    )
    return run_graph(graph, context=run, observer=NullObserver()), mailer


def test_email_attaches_the_file_items_bytes_name_and_type() -> None:
    files = OneExecutionFiles()
    ref = files.save(name="report.pdf", content=REPORT, content_type="application/pdf")

    result, mailer = mail_with("{{ json.doc }}", {"doc": ref}, files)

    assert result.status == "succeeded", result.error
    [sent] = mailer.sent
    assert sent["message"]["attachments"] == [
        {"name": "report.pdf", "content": REPORT, "content_type": "application/pdf"}
    ]


def test_email_with_a_forged_attachment_reference_fails_and_sends_nothing() -> None:
    forged = {"$file": "files/ex-2/0-report.pdf", "name": "theirs.pdf"}

    result, mailer = mail_with([forged], {}, OneExecutionFiles())

    assert result.status == "failed"
    assert result.error["param"] == "params.attachments"
    assert result.error["message"] == "The file 'theirs.pdf' is not one of this execution's files."
    assert mailer.sent == []
