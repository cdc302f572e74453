"""Plain-Django views: the landing page and the error pages (JSON under /api/)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from .api import error_body
from .errors import ErrorCode


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Signed in: straight to the workflows. Otherwise what LinkFlow is and how to start."""
    if request.user.is_authenticated:
        return redirect("workflows:list")
    return render(request, "home.html")


# Machine-facing paths answer errors as JSON in the one error shape.
_JSON_PREFIXES = ("/api/", "/webhooks/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(_JSON_PREFIXES):
        return JsonResponse(error_body(ErrorCode.NOT_FOUND, "Not found."), status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(_JSON_PREFIXES):
        body = error_body(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")
        return JsonResponse(body, status=500)
    return render(request, "500.html", status=500)
