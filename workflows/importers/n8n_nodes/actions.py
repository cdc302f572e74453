"""n8n's Code (Python), Execute Workflow, Respond to Webhook and Send Email nodes."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from .base import Context, Mapped, NotMapped, Source, placeholder, version_check

# n8n's Python API (_input.all(), _input.first(), item.json.x …) over LinkFlow's items:
# items are wrapped so attribute access works, and what the code returns is unwrapped.
_PYTHON_PRELUDE = """\
class _N8nJson(dict):
    def __getattr__(self, name):
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return _n8n_wrap(value)
    def __setattr__(self, name, value):
        self[name] = value
    def __getitem__(self, name):
        return _n8n_wrap(dict.__getitem__(self, name))
def _n8n_wrap(value):
    if isinstance(value, dict) and not isinstance(value, _N8nJson):
        return _N8nJson(value)
    return value
class _N8nItem:
    def __init__(self, json):
        self.json = _N8nJson(json)
    def __getitem__(self, name):
        return getattr(self, name)
class _N8nInput:
    def __init__(self, items):
        self._items = [_N8nItem(i) for i in items]
    def all(self):
        return self._items
    def first(self):
        return self._items[0] if self._items else None
    def last(self):
        return self._items[-1] if self._items else None
def _n8n_plain(value):
    if isinstance(value, _N8nItem):
        value = value.json
    if isinstance(value, dict) and "json" in value and len(value) <= 3:
        value = value["json"]
    if isinstance(value, dict):
        return {k: _n8n_plain_value(v) for k, v in dict.items(value)}
    return value
def _n8n_plain_value(value):
    if isinstance(value, dict):
        return {k: _n8n_plain_value(v) for k, v in dict.items(value)}
    if isinstance(value, list):
        return [_n8n_plain_value(v) for v in value]
    return value
def _n8n_result(value):
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    return [_n8n_plain(v) for v in value]
"""


def code_node(source: Source, ctx: Context) -> Mapped:
    """Code v1/v2 in Python: n8n's ``_input`` API is provided on LinkFlow's items. A
    JavaScript Code node cannot run here: it is kept (as a comment) and reported."""
    version_check(source, (1, 2))
    language = source.param("language", "javaScript")
    if language not in ("python", "pythonNative"):
        return placeholder(
            source, ctx.node_id, "JavaScript code cannot run in LinkFlow; rewrite it in Python"
        )
    code = str(source.param("pythonCode", "") or "")
    mode = source.param("mode", "runOnceForAllItems")
    body = textwrap.indent(code.rstrip() or "return _input.all()", "    ")
    if mode == "runOnceForAllItems":
        wrapper = f"def _n8n_main(_input, _items):\n{body}\n" + (
            "return _n8n_result(_n8n_main(_N8nInput(items), items))\n"
        )
    elif mode == "runOnceForEachItem":
        wrapper = (
            f"def _n8n_main(_input, _item, _json):\n{body}\n"
            "_all = []\n"
            "for _one in items:\n"
            "    _wrapped = _N8nItem(_one)\n"
            "    _input_one = _N8nInput([_one])\n"
            "    _input_one.item = _wrapped\n"
            "    _all += _n8n_result(_n8n_main(_input_one, _wrapped, _wrapped.json))\n"
            "return _all\n"
        )
    else:
        raise NotMapped(f"mode '{mode}'")
    ctx.warn("n8n's Python API is emulated (_input.all/first/last/item, item.json); check the code")
    return Mapped(
        [{"id": ctx.node_id, "type": "code.python", "params": {"code": _PYTHON_PRELUDE + wrapper}}]
    )


def execute_workflow(source: Source, ctx: Context) -> Mapped:
    """By id from the database; the id becomes the imported child's when the child is
    imported in the same batch."""
    version_check(source, (1, 1.1, 1.2, 1.3, 1.4))
    if source.param("source", "database") != "database":
        raise NotMapped(f"workflow source '{source.param('source')}' (only by id)")
    raw = source.param("workflowId", "")
    workflow_id = raw.get("value") if isinstance(raw, dict) else raw
    if not isinstance(workflow_id, str) or not workflow_id or workflow_id.startswith("="):
        raise NotMapped("a workflow chosen by an expression")
    target = ctx.workflow_ids.get(workflow_id)
    if target is None:
        ctx.warn(f"n8n workflow {workflow_id} was not imported with it: set the workflow by hand")
        target = workflow_id
    wait = source.param("options.waitForSubWorkflow", True)
    if source.param("mode", "once") == "each":
        ctx.warn("'run once for each item' becomes one run with all items")
    params = {"workflow": target, "wait": bool(wait)}
    return Mapped([{"id": ctx.node_id, "type": "workflow.execute", "params": params}])


def respond_to_webhook(source: Source, ctx: Context) -> Mapped:
    version_check(source, (1, 1.1, 1.2, 1.3, 1.4, 1.5))
    respond = source.param("respondWith", "firstIncomingItem")
    params: dict[str, Any] = {}
    if respond == "firstIncomingItem":
        params["body"] = "{{ js_out(items[0]) }}"
    elif respond == "allIncomingItems":
        params["body"] = "{{ js_out(items) }}"
    elif respond == "json":
        raw = source.param("responseBody", "")
        if isinstance(raw, str) and raw.startswith("="):
            operand = ctx.operand(raw, "responseBody")
            params["body"] = f"{{{{ js_out(js_typed({operand}, 'object', 3.4, true)) }}}}"
        else:
            try:
                params["body"] = ctx.value(
                    json.loads(raw) if isinstance(raw, str) else raw, "responseBody"
                )
            except ValueError:
                raise NotMapped("the JSON response body is not valid JSON") from None
    elif respond == "text":
        params["body"] = ctx.value(source.param("responseBody", ""), "responseBody")
        ctx.warn("a text body is answered as a JSON string")
    elif respond == "noData":
        params["body"] = None
    else:
        raise NotMapped(f"respond with '{respond}'")
    options = source.param("options") or {}
    if "responseCode" in options:
        params["status"] = ctx.value(options["responseCode"], "options.responseCode")
    headers = {}
    for index, entry in enumerate((options.get("responseHeaders") or {}).get("entries") or []):
        headers[str(entry.get("name", ""))] = ctx.value(
            entry.get("value", ""), f"options.responseHeaders[{index}]"
        )
    if headers:
        params["headers"] = headers
    return Mapped([{"id": ctx.node_id, "type": "webhook.respond", "params": params}])


def send_email(source: Source, ctx: Context) -> Mapped:
    """Send Email v2.x (send operation, text / html / both) as notify.email over SMTP."""
    version_check(source, (2, 2.1))
    if source.param("operation", "send") != "send":
        raise NotMapped(f"operation '{source.param('operation')}'")
    params: dict[str, Any] = {
        "to": ctx.value(source.param("toEmail", ""), "toEmail"),
        "subject": ctx.value(source.param("subject", "") or "(no subject)", "subject"),
        "from": ctx.value(source.param("fromEmail", ""), "fromEmail"),
    }
    fmt = source.param("emailFormat", "html")
    if fmt in ("text", "both"):
        params["text"] = ctx.value(source.param("text", ""), "text")
    if fmt in ("html", "both"):
        params["html"] = ctx.value(source.param("html", ""), "html")
        params.setdefault("text", params["html"])
        if fmt == "html":
            ctx.warn("the HTML body is also sent as the plain-text part")
    if not params["from"]:
        params.pop("from")
    mapped = Mapped([{"id": ctx.node_id, "type": "notify.email", "params": params}])
    mapped.credentials.append("smtp credential (n8n smtp)")
    return mapped
