"""Webhook replies are attacker-controlled content: keep them away from the UI's origin.

Whoever can edit a workflow writes what its webhook answers, and anyone may open a webhook
URL, a signed-in user of another workspace included. So every answer under ``/webhooks/``
(a workflow's reply, an error, a 404, a 429, a 500) is served in a sandbox:
``Content-Security-Policy: sandbox; default-src 'none'`` gives the page an opaque origin,
no script, no form, no plugin and nothing loaded, and ``X-Content-Type-Options: nosniff``
stops a browser guessing a type the reply did not give. The response sets no cookie.
A request asking to install a service worker (``Service-Worker: script``) is refused: a
worker registered from a LinkFlow path would outlive the reply and control the origin.

``LINKFLOW_WEBHOOK_BASE_URL`` names a separate origin for webhooks (another host, since
cookies ignore ports). Its host then serves the webhook routes only: the UI, the API, the
admin and the static files answer 404 there, so nothing of LinkFlow's own runs on it. The
webhook routes on the UI's host keep working, in the same sandbox.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from linkflow.core.api import error_body
from linkflow.core.errors import ErrorCode

WEBHOOK_PREFIX = "/webhooks/"
SANDBOX_CSP = "sandbox; default-src 'none'"
# Nothing a reply says may loosen the sandbox or leave state behind; these go even if a
# view or middleware set them (webhook.respond cannot: see linkflow/engine/reply_headers.py).
_STRIPPED = (
    "Content-Security-Policy-Report-Only",
    "Set-Cookie",
    "Clear-Site-Data",
    "Service-Worker-Allowed",
)


def webhook_host() -> str:
    """The host of ``LINKFLOW_WEBHOOK_BASE_URL`` (lower case, without port), or "" when
    webhooks share the UI's host."""
    base = getattr(settings, "LINKFLOW_WEBHOOK_BASE_URL", "")
    return (urlsplit(base).hostname or "").lower() if base else ""


class WebhookOriginMiddleware:
    """Sandbox every webhook answer and keep the webhook host to the webhook routes.

    Goes first in MIDDLEWARE, so it sees every response last (whatever another middleware
    or an error handler made of it) and refuses a request before anything else runs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        on_webhook_host = self._on_webhook_host(request)
        if not on_webhook_host and not request.path.startswith(WEBHOOK_PREFIX):
            return self.get_response(request)
        if request.headers.get("Service-Worker"):
            response: HttpResponse = _refused(
                403, ErrorCode.PERMISSION_DENIED, "A webhook URL cannot serve a service worker."
            )
        elif on_webhook_host and not request.path.startswith(WEBHOOK_PREFIX):
            response = _refused(404, ErrorCode.NOT_FOUND, "This host serves webhooks only.")
        else:
            response = self.get_response(request)
        return sandboxed(response)

    @staticmethod
    def _on_webhook_host(request: HttpRequest) -> bool:
        host = webhook_host()
        if not host:
            return False
        # The raw Host header: get_host() would raise for a host not in ALLOWED_HOSTS,
        # which CommonMiddleware answers later, inside the sandbox as well.
        raw = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
        try:
            return urlsplit(f"//{raw}").hostname == host
        except ValueError:  # "[" without "]": not a host at all, let ALLOWED_HOSTS refuse it
            return False


def sandboxed(response: HttpResponse) -> HttpResponse:
    """``response`` with the sandbox CSP and nosniff, and without any cookie or header
    that could leave state in the visitor's browser."""
    for name in _STRIPPED:
        if name in response:
            del response[name]
    response.cookies.clear()
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _refused(status: int, code: ErrorCode, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)
