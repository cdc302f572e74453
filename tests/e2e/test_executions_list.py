"""The executions journey: filter the list, page through it, and watch a new run arrive."""

import re

import pytest
from playwright.sync_api import expect

from ..executing import chain, create_workflow, execute, personal_workflow, recorded_execution

pytestmark = pytest.mark.django_db(transaction=True)


def _row(page, execution):
    return page.locator(f'#executions-rows tr[data-execution="{execution.pk}"]')


def test_filters_narrow_the_list(new_page, owner):
    orders, mails = personal_workflow(owner, "Orders"), personal_workflow(owner, "Mails")
    ok, failed, other = (
        recorded_execution(orders),
        recorded_execution(orders, status="failed"),
        recorded_execution(mails),
    )
    page = new_page(owner)
    page.goto("/executions/")
    expect(page.locator("#executions-rows tr")).to_have_count(3)

    page.get_by_label("Status").select_option("failed")  # submits on change (htmx swap)
    expect(page.locator("#executions-rows tr")).to_have_count(1)
    expect(_row(page, failed)).to_be_visible()
    expect(page).to_have_url(re.compile(r"status=failed"))

    page.get_by_label("Status").select_option("")
    page.get_by_label("Workflow").select_option(label="Mails")
    expect(page.locator("#executions-rows tr")).to_have_count(1)
    expect(_row(page, other)).to_be_visible()
    expect(_row(page, ok)).to_have_count(0)
    # The filtered page works as a plain link too (reload, bookmark, the workflow page).
    page.reload()
    expect(page.locator("#executions-rows tr")).to_have_count(1)
    expect(page.get_by_label("Workflow")).to_have_value(str(mails.pk))


def test_cursor_paging_through_more_than_one_page(new_page, owner):
    wf = personal_workflow(owner, "Orders")
    made = [recorded_execution(wf) for _ in range(5)][::-1]  # newest first
    page = new_page(owner)
    page.goto("/executions/?page_size=2")
    expect(page.locator("#executions-rows tr")).to_have_count(2)
    expect(_row(page, made[0])).to_be_visible()
    page.get_by_role("link", name="Older →").click()
    expect(_row(page, made[2])).to_be_visible()
    expect(_row(page, made[3])).to_be_visible()
    page.get_by_role("link", name="Older →").click()
    expect(_row(page, made[4])).to_be_visible()
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    page.get_by_role("link", name="← Newer").click()
    expect(_row(page, made[2])).to_be_visible()
    # Each row opens the run view.
    href = _row(page, made[2]).get_by_role("link").first.get_attribute("href")
    assert href == f"/executions/{made[2].pk}/"


def test_new_execution_appears_live_and_turns_succeeded(new_page, owner, api, e2e_worker):
    workflow_id = create_workflow(
        api,
        chain({"id": "set", "type": "data.set", "params": {"fields": {"ok": True}}}),
        name="Live",
    )
    page = new_page(owner)
    page.goto("/executions/")
    expect(page.get_by_text("No executions yet")).to_be_visible()
    expect(page.locator("[data-live-state]")).to_have_attribute("data-connected", "yes")

    execution_id = execute(api, workflow_id)

    row = page.locator(f'#executions-rows tr[data-execution="{execution_id}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator("[data-badge]")).to_have_text("Succeeded", timeout=20_000)
    expect(row).to_contain_text("Live")
    expect(page.get_by_text("No executions yet")).to_be_hidden()
