"""The OAuth2 connect flow and token refresh, against a real OAuth2 server on 127.0.0.1."""

import base64
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from rest_framework.test import APIClient

from credentials.crypto import decrypt, encrypt
from credentials.models import Credential
from credentials.services import credential_resolver
from linkflow.accounts.services import workspace_ensure_personal
from linkflow.engine.errors import NodeError

pytestmark = pytest.mark.django_db

CLIENT_ID, CLIENT_SECRET = "linkflow-client", "client-secret-xyz"


class OAuth2Handler(BaseHTTPRequestHandler):
    """GET /authorize redirects back with a code; POST /token trades a code (checking the
    PKCE verifier) or a refresh token for tokens. ``server.refuse_refresh`` makes refresh
    fail; every token request is kept in ``server.token_requests``."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        code = f"code-{next(self.server.counter)}"  # type: ignore[attr-defined]
        self.server.codes[code] = query  # type: ignore[attr-defined]
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self.server.token_requests.append(form)  # type: ignore[attr-defined]
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._json(401, {"error": "invalid_client"})
        n = next(self.server.counter)  # type: ignore[attr-defined]
        if form.get("grant_type") == "authorization_code":
            asked = self.server.codes.pop(form.get("code"), None)  # type: ignore[attr-defined]
            if asked is None or _challenge(form.get("code_verifier", "")) != asked.get(
                "code_challenge"
            ):
                return self._json(400, {"error": "invalid_grant"})
            return self._json(200, _tokens(n, refresh=f"rt-{n}"))
        if form.get("grant_type") == "refresh_token" and not self.server.refuse_refresh:  # type: ignore[attr-defined]
            return self._json(200, _tokens(n))
        return self._json(400, {"error": "invalid_grant"})

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _tokens(n: int, refresh: str | None = None) -> dict:
    tokens = {"access_token": f"access-token-{n}", "token_type": "Bearer", "expires_in": 3600}
    return {**tokens, "refresh_token": refresh} if refresh else tokens


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@contextmanager
def oauth2_provider() -> Iterator[ThreadingHTTPServer]:
    """A fresh OAuth2Handler provider serving on 127.0.0.1 until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), OAuth2Handler)
    server.daemon_threads = True
    server.codes, server.token_requests = {}, []  # type: ignore[attr-defined]
    server.counter = itertools.count(1)  # type: ignore[attr-defined]
    server.refuse_refresh = False  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def provider(settings) -> Iterator[ThreadingHTTPServer]:
    settings.LINKFLOW_HTTP_ALLOW_PRIVATE = True  # the provider is on 127.0.0.1
    with oauth2_provider() as server:
        yield server


def oauth2_client_fields(provider: ThreadingHTTPServer, scopes: list[str]) -> dict:
    """The fields of an oauth2_client credential registered with ``provider``."""
    base = f"http://127.0.0.1:{provider.server_port}"
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_url": f"{base}/authorize",
        "token_url": f"{base}/token",
        "scopes": scopes,
    }


@pytest.fixture
def oauth_credential(api, provider) -> dict:
    data = oauth2_client_fields(provider, ["read", "write"])
    response = api.post(
        "/api/v1/credentials/",
        {"name": "provider", "type": "oauth2_client", "data": data},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def connect(api: APIClient, credential_id: str) -> httpx.Response:
    """Run the browser's part: LinkFlow -> provider's authorize -> back to the callback."""
    started = api.get(f"/api/v1/credentials/{credential_id}/oauth2/connect")
    assert started.status_code == 302
    granted = httpx.get(started["Location"], follow_redirects=False)
    back = urlparse(granted.headers["location"])
    assert back.path == "/api/v1/credentials/oauth2/callback"
    # The browser coming back carries no LinkFlow token: the state alone ties it up.
    return APIClient().get(f"{back.path}?{back.query}")


def test_connect_redirects_to_the_provider_with_state_and_pkce(api, oauth_credential):
    response = api.get(f"/api/v1/credentials/{oauth_credential['id']}/oauth2/connect")

    assert response.status_code == 302
    location = urlparse(response["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.path == "/authorize"
    assert set(query) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scope",
    }
    assert (query["response_type"], query["client_id"]) == ("code", CLIENT_ID)
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "read write"
    assert query["redirect_uri"] == "http://testserver/api/v1/credentials/oauth2/callback"
    assert len(query["state"]) >= 32 and len(query["code_challenge"]) == 43


def test_the_callback_stores_the_tokens_encrypted_and_never_shows_them(
    api, owner, provider, oauth_credential
):
    response = connect(api, oauth_credential["id"])

    assert response.status_code == 200, response.json()
    assert response.json()["oauth2"]["connected"] is True
    assert response.json()["oauth2"]["refreshable"] is True
    assert "access-token" not in response.content.decode()
    row = Credential.objects.get(pk=oauth_credential["id"])
    assert "access-token" not in row.secret
    fields = decrypt(row.secret)
    assert (fields["access_token"], fields["refresh_token"]) == ("access-token-2", "rt-2")
    assert fields["expires_at"] == pytest.approx(time.time() + 3600, abs=30)
    exchange = provider.token_requests[0]
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == "http://testserver/api/v1/credentials/oauth2/callback"
    listed = api.get(f"/api/v1/credentials/{oauth_credential['id']}/")
    assert "access-token" not in listed.content.decode() and "rt-2" not in listed.content.decode()


def test_a_state_works_once(api, oauth_credential):
    started = api.get(f"/api/v1/credentials/{oauth_credential['id']}/oauth2/connect")
    back = urlparse(httpx.get(started["Location"]).headers["location"])

    first = APIClient().get(f"{back.path}?{back.query}")
    replay = APIClient().get(f"{back.path}?{back.query}")
    forged = APIClient().get(f"{back.path}?code=x&state=made-up")

    assert first.status_code == 200
    for response in (replay, forged):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "oauth2_state_invalid"


def test_connecting_needs_admin(client_for, viewer, oauth_credential):
    response = client_for(viewer).get(
        f"/api/v1/credentials/{oauth_credential['id']}/oauth2/connect"
    )

    assert response.status_code == 403


def test_an_expired_token_is_refreshed_before_a_node_gets_it(
    api, owner, provider, oauth_credential
):
    connect(api, oauth_credential["id"])
    row = Credential.objects.get(pk=oauth_credential["id"])
    row.secret = encrypt({**decrypt(row.secret), "expires_at": time.time() - 5})
    row.save(update_fields=["secret"])
    resolver = credential_resolver(
        workspace_id=workspace_ensure_personal(user=owner).pk, execution_id="ex-1"
    )

    fields = resolver(oauth_credential["id"])

    assert fields["type"] == "oauth2_client"
    assert fields["access_token"] == "access-token-3"
    assert fields["refresh_token"] == "rt-2"  # the provider sent none: the old one stays
    refresh = provider.token_requests[-1]
    assert (refresh["grant_type"], refresh["refresh_token"]) == ("refresh_token", "rt-2")
    stored = decrypt(Credential.objects.get(pk=row.pk).secret)
    assert stored["access_token"] == "access-token-3"
    assert stored["expires_at"] > time.time() + 3000
    assert {"access-token-3", "rt-2", CLIENT_SECRET} <= resolver.used_secrets()
    assert resolver(oauth_credential["id"])["access_token"] == "access-token-3"
    assert len(provider.token_requests) == 2  # a fresh token is not refreshed again


def test_a_failed_refresh_fails_the_node_without_the_secret(api, owner, provider, oauth_credential):
    connect(api, oauth_credential["id"])
    row = Credential.objects.get(pk=oauth_credential["id"])
    row.secret = encrypt({**decrypt(row.secret), "expires_at": time.time() - 5})
    row.save(update_fields=["secret"])
    before = row.secret
    provider.refuse_refresh = True
    resolver = credential_resolver(workspace_id=workspace_ensure_personal(user=owner).pk)

    with pytest.raises(NodeError) as failure:
        resolver(oauth_credential["id"])

    assert failure.value.param == "credential"
    assert "status 400" in failure.value.message and "rt-2" not in failure.value.message
    assert Credential.objects.get(pk=row.pk).secret == before
