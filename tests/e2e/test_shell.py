"""The page shell every journey starts from: signing in, the header, the switcher."""

import re

import pytest
from playwright.sync_api import expect

from linkflow.accounts.models import Role
from linkflow.accounts.services import membership_add, workspace_create

from .conftest import set_password

pytestmark = pytest.mark.django_db(transaction=True)


def test_signed_out_visitor_signs_in_and_lands_on_workflows(new_page, owner):
    set_password(owner, "correct horse battery")
    page = new_page(None)
    page.goto("/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail").fill(owner.email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/workflows/$"))
    expect(page.locator(".topbar").get_by_text(owner.email)).to_be_visible()


def test_workspace_switcher_changes_the_current_workspace(new_page, owner, teammate):
    team = workspace_create(user=teammate, name="Zeta team")
    membership_add(workspace=team, user=owner, role=Role.VIEWER)
    page = new_page(owner)
    page.goto("/workflows/")
    page.get_by_label("Workspace").select_option(label="Zeta team (viewer)")
    expect(page.get_by_text("Now working in Zeta team.")).to_be_visible()
    expect(page.get_by_label("Workspace")).to_have_value(str(team.pk))


def test_header_menu_folds_at_phone_width(new_page, owner):
    page = new_page(owner, width=390)
    page.goto("/workflows/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav.get_by_role("link", name="Executions")).to_be_visible()
