"""Signing in for a JWT pair and refreshing it."""

import pytest

from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_email_and_password_give_a_token_pair_that_authenticates(client, owner):
    response = client.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    listed = client.get("/api/v1/workflows/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert listed.status_code == 200


def test_refresh_gives_a_new_access_token(client, owner):
    tokens = client.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": PASSWORD},
        content_type="application/json",
    ).json()

    response = client.post(
        "/api/v1/auth/token/refresh/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert "access" in response.json()


def test_a_wrong_password_answers_401_in_the_error_shape(client, owner):
    response = client.post(
        "/api/v1/auth/token/",
        {"email": owner.email, "password": "wrong"},
        content_type="application/json",
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_garbage_bearer_token_answers_401(client):
    response = client.get("/api/v1/workflows/", HTTP_AUTHORIZATION="Bearer not.a.jwt")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
