"""trigger.webhook, trigger.schedule and webhook.respond: what they emit, what validation
refuses (including the schedule's cron and time zone checks), what a response looks like."""

from __future__ import annotations

from typing import Any

import pytest

from linkflow.engine import (
    Graph,
    NodeContext,
    NodeError,
    NullObserver,
    Problem,
    RunContext,
    run_graph,
    validate_graph,
)
from linkflow.engine.nodes.respond import RespondToWebhook
from linkflow.engine.nodes.trigger import ScheduleTrigger, WebhookTrigger
from linkflow.engine.registry import Items, NodeType

REQUEST = {"method": "POST", "path": "orders", "query": {}, "headers": {}, "body": {"id": 7}}


def run_node(
    node_type: type[NodeType],
    params: dict[str, Any],
    items: Items,
    *,
    run: RunContext | None = None,
) -> dict[str, Items]:
    run = run or RunContext(execution={"id": "e1", "mode": "manual"}, trigger_input={})
    ctx = NodeContext(node_id="node", params=params, run=run, items=items, node_views={})
    return node_type().execute(ctx, items)


def trigger_problems(node_type: str, params: dict[str, Any]) -> list[Problem]:
    """validate_graph of a graph holding only the trigger "start"."""
    return validate_graph({"nodes": [{"id": "start", "type": node_type, "params": params}]})


def fields(problems: list[Problem]) -> list[tuple[str, str | None, str | None]]:
    return [(problem.code, problem.node_id, problem.field) for problem in problems]


# trigger.webhook


def test_webhook_trigger_emits_the_request_as_one_item() -> None:
    run = RunContext(execution={"id": "e1", "mode": "webhook"}, trigger_input=REQUEST)

    output = run_node(WebhookTrigger, {"method": "POST"}, [], run=run)

    assert output == {"main": [REQUEST]}
    assert output["main"][0] is not REQUEST


def test_webhook_trigger_with_all_params_is_valid() -> None:
    params = {
        "method": "PUT",
        "path": "orders/new_one-2",
        "mode": "sync",
        "auth": "hmac",
        "timeout_seconds": 300,
    }

    assert trigger_problems("trigger.webhook", params) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"method": "HEAD"}, "params.method"),
        ({"path": "/orders"}, "params.path"),
        ({"path": "Orders"}, "params.path"),
        ({"path": "o" * 101}, "params.path"),
        ({"mode": "later"}, "params.mode"),
        ({"auth": "basic"}, "params.auth"),
        ({"timeout_seconds": 0.5}, "params.timeout_seconds"),
        ({"timeout_seconds": 301}, "params.timeout_seconds"),
        ({"respond": "last_node"}, "params.respond"),
    ],
)
def test_webhook_trigger_with_bad_param_is_rejected_at_it(
    params: dict[str, Any], field: str
) -> None:
    assert fields(trigger_problems("trigger.webhook", params)) == [
        ("node_params_invalid", "start", field)
    ]


def test_webhook_trigger_counts_as_the_graphs_trigger() -> None:
    graph = {
        "nodes": [{"id": "hook", "type": "trigger.webhook"}, {"id": "next", "type": "flow.noop"}],
        "edges": [{"source": "hook", "target": "next"}],
    }

    assert validate_graph(graph) == []


# trigger.schedule


def test_schedule_trigger_emits_the_scheduler_input() -> None:
    run = RunContext(
        execution={"id": "e1", "mode": "schedule"},
        trigger_input={"scheduled_at": "2025-01-02T03:05:00+00:00"},
    )

    output = run_node(ScheduleTrigger, {"cron": "*/5 * * * *"}, [], run=run)

    assert output == {"main": [{"scheduled_at": "2025-01-02T03:05:00+00:00"}]}


def test_schedule_with_valid_cron_and_timezone_has_no_problems() -> None:
    params = {"cron": "*/5 * * * *", "timezone": "Europe/Berlin"}

    assert trigger_problems("trigger.schedule", params) == []


def test_schedule_timezone_defaults_to_utc() -> None:
    assert trigger_problems("trigger.schedule", {"cron": "0 9 * * MON-FRI"}) == []


def test_schedule_with_out_of_range_cron_is_rejected_at_the_cron() -> None:
    assert trigger_problems("trigger.schedule", {"cron": "61 * * * *"}) == [
        Problem(
            "node_params_invalid",
            "Invalid cron expression: [61 * * * *] is not acceptable, out of range.",
            "start",
            "params.cron",
        )
    ]


def test_schedule_with_unknown_timezone_is_rejected_at_the_timezone() -> None:
    params = {"cron": "*/5 * * * *", "timezone": "Mars/Olympus"}

    assert trigger_problems("trigger.schedule", params) == [
        Problem(
            "node_params_invalid", "Unknown time zone 'Mars/Olympus'.", "start", "params.timezone"
        )
    ]


def test_schedule_reports_bad_cron_and_bad_timezone_together() -> None:
    params = {"cron": "61 * * * *", "timezone": "Mars/Olympus"}

    assert fields(trigger_problems("trigger.schedule", params)) == [
        ("node_params_invalid", "start", "params.cron"),
        ("node_params_invalid", "start", "params.timezone"),
    ]


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("* * * * * *", "'cron' needs five fields: minute hour day-of-month month day-of-week."),
        ("@hourly", "'cron' needs five fields: minute hour day-of-month month day-of-week."),
        (
            "0 0 31 2 *",
            "Invalid cron expression: [0 0 31 2 *] is not acceptable. "
            "Day(s) [31] can never occur in month(s) [2].",
        ),
        ("{{ json.cron }}", "Expressions are not allowed in 'cron'; write the schedule itself."),
    ],
)
def test_schedule_refuses_crons_that_are_not_plain_five_field_ones(cron: str, message: str) -> None:
    assert trigger_problems("trigger.schedule", {"cron": cron}) == [
        Problem("node_params_invalid", message, "start", "params.cron")
    ]


@pytest.mark.parametrize("timezone", ["{{ json.tz }}", "localtime", "../etc/passwd", ""])
def test_schedule_refuses_timezones_that_are_not_iana_names(timezone: str) -> None:
    params = {"cron": "*/5 * * * *", "timezone": timezone}

    assert fields(trigger_problems("trigger.schedule", params)) == [
        ("node_params_invalid", "start", "params.timezone")
    ]


def test_schedule_custom_checks_wait_for_the_schema_to_pass() -> None:
    params = {"cron": "61 * * * *", "timezone": 5}

    assert fields(trigger_problems("trigger.schedule", params)) == [
        ("node_params_invalid", "start", "params.timezone")
    ]


def test_schedule_without_cron_is_rejected_at_the_cron() -> None:
    assert trigger_problems("trigger.schedule", {"timezone": "UTC"}) == [
        Problem("node_params_invalid", "'cron' is required.", "start", "params.cron")
    ]


# webhook.respond


def test_respond_sets_the_response_from_expressions_on_the_first_item() -> None:
    run = RunContext(execution={"id": "e1", "mode": "webhook"}, trigger_input={})
    items = [{"id": 7, "ok": True}, {"id": 8, "ok": False}]
    params = {
        "status": "{{ 201 if json.ok else 422 }}",
        "headers": {"X-Order": "{{ json.id }}", "Cache-Control": "no-store"},
        "body": {"order": "{{ json.id }}", "count": "{{ items | length }}"},
    }

    output = run_node(RespondToWebhook, params, items, run=run)

    assert output == {"main": items}
    assert run.response == {
        "status": 201,
        "headers": {"X-Order": "7", "Cache-Control": "no-store"},
        "body": {"order": 7, "count": 2},
    }


def test_respond_defaults_to_200_and_the_single_item_as_body() -> None:
    run = RunContext(execution={"id": "e1", "mode": "webhook"}, trigger_input={})

    run_node(RespondToWebhook, {}, [{"id": 7}], run=run)

    assert run.response == {"status": 200, "headers": {}, "body": {"id": 7}}


def test_respond_default_body_of_several_items_is_the_list() -> None:
    run = RunContext(execution={"id": "e1", "mode": "webhook"}, trigger_input={})

    run_node(RespondToWebhook, {"status": 202}, [{"n": 1}, {"n": 2}], run=run)

    assert run.response == {"status": 202, "headers": {}, "body": [{"n": 1}, {"n": 2}]}


def test_respond_with_a_computed_status_out_of_range_fails_on_status() -> None:
    run = RunContext(execution={"id": "e1", "mode": "webhook"}, trigger_input={})

    with pytest.raises(NodeError) as raised:
        run_node(RespondToWebhook, {"status": "{{ json.code }}"}, [{"code": "200"}], run=run)

    assert raised.value.message == "'status' must be a whole number from 200 to 599, got '200'."
    assert raised.value.param == "params.status"
    assert run.response is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": 600}, "params.status"),
        ({"status": "ok"}, "params.status"),
        ({"headers": {"X-Count": 3}}, "params.headers"),
        ({"code": 200}, "params.code"),
    ],
)
def test_respond_with_bad_params_is_rejected(params: dict[str, Any], field: str) -> None:
    graph = {
        "nodes": [
            {"id": "start", "type": "trigger.webhook", "params": {"mode": "sync"}},
            {"id": "reply", "type": "webhook.respond", "params": params},
        ],
        "edges": [{"source": "start", "target": "reply"}],
    }

    assert fields(validate_graph(graph)) == [("node_params_invalid", "reply", field)]


def test_respond_response_is_left_on_the_run_context_after_run_graph() -> None:
    raw = {
        "nodes": [
            {"id": "start", "type": "trigger.webhook", "params": {"mode": "sync"}},
            {"id": "reply", "type": "webhook.respond", "params": {"body": "{{ json.body }}"}},
        ],
        "edges": [{"source": "start", "target": "reply"}],
    }
    context = RunContext(execution={"id": "e1", "mode": "webhook"}, trigger_input=REQUEST)

    result = run_graph(Graph.from_dict(raw), context=context, observer=NullObserver())

    assert result.status == "succeeded"
    assert context.response == {"status": 200, "headers": {}, "body": {"id": 7}}
