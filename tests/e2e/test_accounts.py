"""The account journey in a browser: sign up, passwords, members and roles, workspaces."""

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from linkflow.accounts.models import Membership, User, Workspace
from linkflow.accounts.services import workspace_ensure_personal

from .conftest import set_password

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "lantern orchard 7 quietly"


def _reset_link(mail_dir: Path, email: str, since: float) -> str:
    """The reset link in the newest message to ``email`` written after ``since``."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        files = sorted(mail_dir.glob("*.log"), key=lambda f: f.stat().st_mtime, reverse=True)
        for file in files:
            text = file.read_text()
            if file.stat().st_mtime >= since and f"To: {email}" in text:
                return re.search(r"https?://\S+/accounts/password/reset/\S+/", text).group(0)
        time.sleep(0.1)
    pytest.fail(f"no reset mail to {email} in {mail_dir}")


def test_a_visitor_signs_up_and_lands_signed_in_on_workflows(new_page):
    page = new_page(None)
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("E-mail").fill("grace@example.com")
    page.get_by_label("Your name").fill("Grace")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password again").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".field-invalid").get_by_text("too short")).to_be_visible()

    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url(re.compile(r"/workflows/$"))
    expect(page.locator(".topbar").get_by_text("grace@example.com")).to_be_visible()
    expect(page.get_by_label("Workspace", exact=True)).to_contain_text("Grace's workspace (owner)")
    assert User.objects.get(email="grace@example.com").check_password(NEW_PASSWORD)


def test_password_reset_by_mail_then_sign_in_with_the_new_password(new_page, owner, mail_dir):
    started = time.time() - 1
    page = new_page(None)
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail").fill(owner.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()

    page.goto(_reset_link(mail_dir, owner.email, started))
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()

    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail").fill(owner.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/workflows/$"))
    expect(page.locator(".topbar").get_by_text(owner.email)).to_be_visible()


def test_a_signed_in_user_changes_their_password(new_page, owner):
    set_password(owner, "old enough passphrase")
    page = new_page(owner)
    page.goto("/workflows/")
    page.locator(".user-menu summary").click()
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Old password").fill("old enough passphrase")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()

    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_an_owner_adds_a_viewer_changes_the_role_and_removes_them(new_page, owner, outsider):
    team = workspace_ensure_personal(user=owner)
    page = new_page(owner)
    page.goto("/workflows/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()

    page.get_by_label("E-mail").fill(outsider.email)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text(f"Added {outsider.email}.")).to_be_visible()
    row = page.locator(f'tr[data-member="{outsider.email}"]')
    expect(row.get_by_label(f"Role of {outsider.email}")).to_have_value("viewer")

    row.get_by_label(f"Role of {outsider.email}").select_option("editor")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_text(f"{outsider.email} is now editor.")).to_be_visible()
    assert Membership.objects.get(workspace=team, user=outsider).role == "editor"

    row.get_by_role("button", name="Remove").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text(f"Remove {outsider.email}")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    row.get_by_role("button", name="Remove").click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text(f"Removed {outsider.email}.")).to_be_visible()
    expect(row).to_have_count(0)
    assert not Membership.objects.filter(workspace=team, user=outsider).exists()


def test_a_user_creates_a_workspace_and_switches_between_workspaces(new_page, owner, viewer):
    team = workspace_ensure_personal(user=owner)
    page = new_page(viewer)
    page.goto("/workspace/members/")
    page.get_by_label("Workspace", exact=True).select_option(str(team.pk))
    expect(page.get_by_role("heading", name=team.name)).to_be_visible()
    expect(page.get_by_text("You are viewer here.")).to_be_visible()
    expect(page.get_by_role("button", name="Add member")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    page.get_by_role("link", name="New workspace").click()
    page.get_by_label("Name").fill("Night shift")
    page.get_by_role("button", name="Create workspace").click()

    expect(page.get_by_text("Created Night shift.")).to_be_visible()
    expect(page.get_by_role("heading", name="Night shift")).to_be_visible()
    created = Workspace.objects.get(name="Night shift")
    expect(page.get_by_label("Workspace", exact=True)).to_have_value(str(created.pk))

    personal = workspace_ensure_personal(user=viewer)
    page.get_by_label("Workspace", exact=True).select_option(str(personal.pk))
    expect(page.get_by_text(f"Now working in {personal.name}.")).to_be_visible()
    expect(page.get_by_role("heading", name=personal.name)).to_be_visible()
    expect(page.get_by_role("button", name="Delete workspace")).to_have_count(0)

    page.get_by_label("Workspace", exact=True).select_option(str(created.pk))
    page.get_by_role("button", name="Delete workspace").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Deleted Night shift.")).to_be_visible()
    assert not Workspace.objects.filter(pk=created.pk).exists()
