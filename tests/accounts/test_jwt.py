"""JWT edge cases: what a forged, expired, malformed or used-up token gets."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken

from linkflow.accounts.models import User

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def _pair(client, user: User) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    return response.json()


def _list_with(client, token: str):
    return client.get("/api/v1/workflows/", HTTP_AUTHORIZATION=f"Bearer {token}")


def _refresh(client, refresh: str):
    return client.post(
        "/api/v1/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )


def _assert_authentication_failed(response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "authentication_failed"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_a_valid_access_token_authenticates(client, owner):
    assert _list_with(client, _pair(client, owner)["access"]).status_code == 200


def test_access_tokens_live_fifteen_minutes_by_default(owner):
    token = AccessToken.for_user(owner)

    assert token["exp"] - token["iat"] == 15 * 60


def test_an_expired_access_token_is_refused(client, owner):
    token = AccessToken.for_user(owner)
    token.set_exp(from_time=timezone.now() - timedelta(minutes=16))

    _assert_authentication_failed(_list_with(client, str(token)))


def test_an_alg_none_token_is_refused(client, owner):
    payload = AccessToken.for_user(owner).payload
    forged = jwt.encode(payload, key=None, algorithm="none")

    _assert_authentication_failed(_list_with(client, forged))


def test_a_token_signed_with_another_key_is_refused(client, owner):
    payload = AccessToken.for_user(owner).payload
    forged = jwt.encode(payload, key="not-" + settings.SECRET_KEY, algorithm="HS256")

    _assert_authentication_failed(_list_with(client, forged))


def test_a_token_with_a_changed_payload_is_refused(client, owner, outsider):
    header, _, signature = str(AccessToken.for_user(owner)).split(".")
    other_payload = str(AccessToken.for_user(outsider)).split(".")[1]

    _assert_authentication_failed(_list_with(client, f"{header}.{other_payload}.{signature}"))


@pytest.mark.parametrize(
    "token", ["abc.def.ghi", "not-a-jwt", "a.b", "....", "eyJhbGciOiJIUzI1NiJ9.e30."]
)
def test_malformed_bearer_tokens_are_refused(client, token):
    _assert_authentication_failed(_list_with(client, token))


def test_an_authorization_header_with_extra_parts_is_refused(client, owner):
    token = str(AccessToken.for_user(owner))

    response = client.get("/api/v1/workflows/", HTTP_AUTHORIZATION=f"Bearer {token} extra")

    _assert_authentication_failed(response)


def test_a_refresh_token_is_not_accepted_as_an_access_token(client, owner):
    _assert_authentication_failed(_list_with(client, _pair(client, owner)["refresh"]))


def test_the_tokens_of_a_deactivated_user_are_refused(client, owner):
    tokens = _pair(client, owner)
    User.objects.filter(pk=owner.pk).update(is_active=False)

    _assert_authentication_failed(_list_with(client, tokens["access"]))
    _assert_authentication_failed(_refresh(client, tokens["refresh"]))


def test_a_deactivated_user_cannot_sign_in(client, owner):
    User.objects.filter(pk=owner.pk).update(is_active=False)

    response = client.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": PASSWORD},
        content_type="application/json",
    )

    _assert_authentication_failed(response)


def test_a_refresh_token_works_once(client, owner):
    tokens = _pair(client, owner)

    first = _refresh(client, tokens["refresh"])
    again = _refresh(client, tokens["refresh"])

    assert first.status_code == 200
    assert first.json()["refresh"] != tokens["refresh"]
    _assert_authentication_failed(again)
    assert _refresh(client, first.json()["refresh"]).status_code == 200


def test_a_revoked_refresh_token_is_refused(client, owner):
    tokens = _pair(client, owner)

    revoked = client.post(
        "/api/v1/auth/token/revoke/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
    )

    assert revoked.status_code == 200
    assert BlacklistedToken.objects.filter(token__user=owner).count() == 1
    _assert_authentication_failed(_refresh(client, tokens["refresh"]))


def test_revoking_a_garbage_token_answers_401_and_blacklists_nothing(client, owner):
    response = client.post(
        "/api/v1/auth/token/revoke/", {"refresh": "garbage"}, content_type="application/json"
    )

    _assert_authentication_failed(response)
    assert BlacklistedToken.objects.count() == 0


def test_revoking_without_a_token_names_the_field(client):
    response = client.post("/api/v1/auth/token/revoke/", {}, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == ["refresh"]
