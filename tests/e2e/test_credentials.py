"""The credentials journey: create with a secret, edit without re-entering it, delete
after seeing where it is used, and connect an OAuth2 credential at a provider."""

from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from credentials.models import Credential
from credentials.services import credential_create, credential_fields
from linkflow.accounts.services import workspace_ensure_personal
from workflows.services import workflow_create

from ..credentials.test_oauth2_credentials import (
    CLIENT_SECRET,
    oauth2_client_fields,
    oauth2_provider,
)
from ..executing import chain
from .conftest import serving_web

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "tok-Zq8-very-secret-4417"


@pytest.fixture(scope="module")
def oauth_web_url(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A web role that may reach the provider on 127.0.0.1 (the SSRF guard refuses private
    addresses by default; the shared live server keeps that default)."""
    with (
        django_db_blocker.unblock(),
        serving_web(name="web-oauth", LINKFLOW_HTTP_ALLOW_PRIVATE="true") as url,
    ):
        yield url


@pytest.fixture
def provider() -> Iterator[ThreadingHTTPServer]:
    with oauth2_provider() as server:
        yield server


def test_create_then_edit_without_reentering_the_secret(new_page, owner):
    workspace = workspace_ensure_personal(user=owner)
    page = new_page(owner)
    page.goto("/credentials/")
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    page.get_by_role("link", name="New credential").first.click()
    page.get_by_role("link", name="HTTP bearer token").click()
    page.get_by_label("Name").fill("Shop API")
    page.get_by_label("Token").fill(SECRET)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved credential Shop API.")).to_be_visible()
    credential = Credential.objects.get(workspace=workspace, name="Shop API")
    assert credential_fields(credential=credential) == {"token": SECRET}
    assert SECRET not in page.content()
    expect(page.get_by_label("Token")).to_have_value("")

    page.get_by_label("Name").fill("Shop API (prod)")
    page.get_by_role("button", name="Save").click()  # the token left blank
    expect(page.get_by_text("Saved credential Shop API (prod).")).to_be_visible()
    credential.refresh_from_db()
    assert credential.name == "Shop API (prod)"
    assert credential_fields(credential=credential) == {"token": SECRET}
    assert SECRET not in page.content()
    page.get_by_role("link", name="Back to credentials").click()
    expect(page.get_by_role("link", name="Shop API (prod)")).to_be_visible()
    assert SECRET not in page.content()


def test_delete_asks_first_and_names_the_workflows_using_it(new_page, owner):
    workspace = workspace_ensure_personal(user=owner)
    credential = credential_create(
        user=owner, workspace=workspace, name="Mailer", type="http_bearer", data={"token": "x"}
    )
    node = {"id": "call", "type": "http.request", "params": {"url": "https://example.test"}}
    graph = chain({**node, "credential": str(credential.pk)})
    workflow_create(user=owner, workspace=workspace, name="Nightly report", graph=graph)
    page = new_page(owner)
    page.goto("/credentials/")
    row = page.locator(f'tr[data-credential="{credential.pk}"]')
    expect(row.get_by_role("link", name="Nightly report")).to_be_visible()

    row.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Nightly report")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Credential.objects.filter(pk=credential.pk).exists()

    row.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Deleted credential Mailer.")).to_be_visible()
    assert not Credential.objects.filter(pk=credential.pk).exists()


def test_oauth2_connect_round_trip(new_page, owner, provider, oauth_web_url):
    workspace = workspace_ensure_personal(user=owner)
    data = oauth2_client_fields(provider, ["read"])
    credential = credential_create(
        user=owner, workspace=workspace, name="Provider", type="oauth2_client", data=data
    )
    page = new_page(owner)  # the session cookie is for 127.0.0.1, whatever the port
    page.goto(f"{oauth_web_url}/credentials/{credential.pk}/")
    expect(page.get_by_text("Not connected yet")).to_be_visible()
    assert CLIENT_SECRET not in page.content()

    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_text("Connected Provider")).to_be_visible()
    assert page.url == f"{oauth_web_url}/credentials/{credential.pk}/"
    credential.refresh_from_db()
    fields = credential_fields(credential=credential)
    assert fields["access_token"].startswith("access-token-")
    assert fields["refresh_token"].startswith("rt-")
    assert provider.token_requests[0]["grant_type"] == "authorization_code"
    assert fields["access_token"] not in page.content()
    expect(page.get_by_role("button", name="Connect again")).to_be_visible()
