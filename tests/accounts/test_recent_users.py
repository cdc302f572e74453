"""The per-process cache of the users JWTs name (linkflow/accounts/recent_users.py): it
saves the user query, and never lets a deactivated user in for longer than it promises."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from linkflow.accounts import recent_users
from linkflow.accounts.authentication import JWTAuthentication
from linkflow.accounts.models import User

pytestmark = pytest.mark.django_db


def _list_with(client, user: User):
    token = str(AccessToken.for_user(user))
    return client.get("/api/v1/workflows/", HTTP_AUTHORIZATION=f"Bearer {token}")


def _user_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "accounts_user"' in q["sql"]]


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(recent_users.recent, "clock", lambda: now[0])
    return now


def test_a_second_request_within_the_window_does_not_load_the_user(client, owner, clock):
    assert _list_with(client, owner).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert _list_with(client, owner).status_code == 200

    assert _user_queries(queries.captured_queries) == []


def test_a_user_deactivated_in_this_process_is_refused_at_once(client, owner, clock):
    assert _list_with(client, owner).status_code == 200
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    assert _list_with(client, owner).status_code == 401


def test_a_user_deleted_in_this_process_is_refused_at_once(client, owner, clock):
    assert _list_with(client, owner).status_code == 200
    token = str(AccessToken.for_user(owner))
    owner.delete()

    response = client.get("/api/v1/workflows/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401


def test_an_unannounced_deactivation_is_seen_once_the_entry_expires(client, owner, clock):
    # Another process's change sends no signal here: only the entry's age bounds it.
    assert _list_with(client, owner).status_code == 200
    User.objects.filter(pk=owner.pk).update(is_active=False)  # no signal

    within = _list_with(client, owner).status_code
    clock[0] += recent_users.USER_CACHE_SECONDS + 0.1
    after = _list_with(client, owner).status_code

    assert (within, after) == (200, 401)


def test_a_refusal_is_not_cached_so_a_reactivated_user_gets_in_at_once(client, owner, clock):
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert _list_with(client, owner).status_code == 401
    User.objects.filter(pk=owner.pk).update(is_active=True)  # no signal

    assert _list_with(client, owner).status_code == 200


def test_each_request_gets_its_own_user_instance(owner, clock):
    token = AccessToken.for_user(owner)
    auth = JWTAuthentication()

    first, second = auth.get_user(token), auth.get_user(token)
    first.name = "changed by one request"

    assert first is not second
    assert (second.pk, second.email, second.name) == (owner.pk, owner.email, owner.name)


def test_one_users_token_never_answers_as_another(client, owner, outsider, clock):
    _list_with(client, owner)
    token = AccessToken.for_user(outsider)

    assert JWTAuthentication().get_user(token).pk == outsider.pk


def test_a_token_naming_no_user_id_is_refused(client, owner):
    token = AccessToken.for_user(owner)
    token["user_id"] = "not-a-uuid"

    response = client.get("/api/v1/workflows/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
