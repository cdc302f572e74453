"""The sign-in page browser flows (OAuth2 consent) send signed-out users to."""

import pytest

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_signed_out_user_is_sent_to_the_login_page_and_back(client, owner):
    authorize = "/oauth/authorize/?response_type=code&client_id=x"

    redirect = client.get(authorize)
    page = client.get(redirect["Location"])
    signed_in = client.post(
        "/accounts/login/", {"username": owner.email, "password": PASSWORD, "next": authorize}
    )

    assert redirect.status_code == 302
    assert redirect["Location"].startswith("/accounts/login/?next=")
    assert page.status_code == 200
    assert b"Sign in" in page.content
    assert signed_in.status_code == 302
    assert signed_in["Location"] == authorize


def test_a_wrong_password_shows_the_form_again_with_an_error(client, owner):
    response = client.post("/accounts/login/", {"username": owner.email, "password": "nope"})

    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert "_auth_user_id" not in client.session
