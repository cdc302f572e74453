"""API keys in a browser: create with scopes, the secret shown once, use it, revoke it."""

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_key_is_created_shown_once_works_and_stops_working_when_revoked(
    new_page, owner, live_server_url
):
    page = new_page(owner)
    page.goto("/workflows/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_text("No API keys yet")).to_be_visible()

    page.get_by_label("Name").fill("Nightly export")
    page.get_by_label("workflows:read").check()
    page.get_by_role("button", name="Create key").click()

    secret = page.locator(".secret-once").inner_text().strip()
    expect(page.get_by_role("button", name="Copy")).to_have_attribute("data-copy", "#new-key")
    assert secret.startswith("lf_")
    api = httpx.Client(base_url=live_server_url, headers={"Authorization": f"Api-Key {secret}"})
    assert api.get("/api/v1/workflows/").status_code == 200
    # Only the scopes chosen: credentials were not among them.
    assert api.get("/api/v1/credentials/").status_code == 403

    page.goto("/settings/api-keys/")
    expect(page.locator(".secret-once")).to_have_count(0)
    assert secret not in page.content()
    row = page.locator(f'tr[data-key="{secret[:11]}"]')
    expect(row).to_contain_text("workflows:read")
    expect(row).not_to_contain_text("never")  # last used: just now

    row.get_by_role("button", name="Revoke").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("It no longer works.")).to_be_visible()
    expect(row.locator(".badge")).to_have_text("revoked")
    assert api.get("/api/v1/workflows/").status_code == 401
