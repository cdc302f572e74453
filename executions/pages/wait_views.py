"""The endpoints of flow.wait's call and approval modes (services in waits.py).

``/webhooks/wait/<token>`` takes the call a system or person makes: a POST whose body
becomes the wait node's output. Under /webhooks/, so it answers in the webhook sandbox
(workflows/origin.py) and on the webhook origin when there is one.

``/wait/<token>/<approve|reject>/`` is a confirmation page on the UI's origin, outside the
sandbox because it must submit a form: GET only shows the question (mail scanners and link
previews follow links, and must not approve anything), the page's POST decides. It is a
page without LinkFlow's UI or scripts, under a CSP allowing no script at all and forms
only to itself. No session or CSRF token: the signed token in the URL is the credential,
and whoever holds it can POST anyway.
"""

import json
from typing import Any

from csp.constants import NONE, SELF
from csp.decorators import csp_replace
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from executions.running.waits import DECISIONS, wait_find, wait_resume
from linkflow.core.api import error_body
from linkflow.core.errors import ErrorCode, LinkflowError
from linkflow.core.json_body import body_bytes, json_loads, own_body_limit
from linkflow.core.throttling import webhook_throttled

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@csrf_exempt
@own_body_limit  # a webhook call: LINKFLOW_WEBHOOK_MAX_BYTES, read in _body
def resume_call(request: HttpRequest, token: str) -> HttpResponse:
    """POST ``/webhooks/wait/<token>``: resume the wait with the body (JSON, or text as a
    string); 202 ``{"execution_id"}``, 404 for a forged token, 410 once used or expired."""
    throttled = webhook_throttled(request)
    if throttled is not None:
        return throttled
    try:
        if request.method != "POST":
            raise LinkflowError(ErrorCode.METHOD_NOT_ALLOWED, "Only POST resumes.", status_code=405)
        wait_find(token=token, mode="call")  # refused before the body is read
        execution = wait_resume(token=token, mode="call", call={"body": _body(request)})
    except LinkflowError as error:
        response = JsonResponse(
            error_body(error.code, error.message, error.details), status=error.status_code
        )
        if error.status_code == 405:
            response["Allow"] = "POST"
        return response
    return JsonResponse({"execution_id": str(execution.pk)}, status=202)


@csrf_exempt
@csp_replace({"script-src": [NONE], "connect-src": [NONE], "form-action": [SELF]})  # type: ignore[arg-type]  # csp: request-only
def decide(request: HttpRequest, token: str, decision: str) -> HttpResponse:
    """GET shows "approve?" / "reject?" with a button; only the POST decides."""
    if decision not in DECISIONS or request.method not in ("GET", "POST"):
        return _page(request, "waits/gone.html", status=404)
    try:
        if request.method == "GET":
            wait_find(token=token, mode="approval")
            return _page(request, "waits/confirm.html", decision=decision)
        wait_resume(token=token, mode="approval", call={"decision": decision})
    except LinkflowError as error:
        return _page(request, "waits/gone.html", status=error.status_code)
    return _page(request, "waits/done.html", decision=decision)


def _page(request: HttpRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response["Cache-Control"] = "no-store"
    return response


def _body(request: HttpRequest) -> Any:
    limit = getattr(settings, "LINKFLOW_WEBHOOK_MAX_BYTES", DEFAULT_MAX_BYTES)
    raw = body_bytes(request, limit=limit)  # 413 payload_too_large with max_bytes
    if not raw:
        return {}
    content_type = (request.content_type or "").lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        value = json_loads(raw)  # 400 malformed_request: not JSON, or nested too deep
        if "\\u0000" in json.dumps(value):  # jsonb cannot store it
            raise _malformed("The body holds a NUL character.")
        return value
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _malformed(message: str) -> LinkflowError:
    return LinkflowError(ErrorCode.MALFORMED_REQUEST, message, status_code=400)
