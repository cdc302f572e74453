"""Webhook calls take a shorter middleware chain: ``settings.WEBHOOK_MIDDLEWARE``.

A webhook call is an anonymous machine posting to an unguessable URL: it has no session,
no signed-in user, no CSRF token, no flash message, no htmx header and no static file, and
its answer gets the sandbox CSP (origin.py) in place of the UI's. Going through the
middlewares that serve those cost about a seventh of the web process's CPU per call, so
``WebhookLaneMiddleware`` (placed right after the origin sandbox and the body limit in
MIDDLEWARE) hands such a call to a chain of its own. That chain is Django's request
handling itself (URL resolving, over the webhook routes only, view and exception
middleware, error pages), built over
WEBHOOK_MIDDLEWARE, which keeps the security headers, the host check (ALLOWED_HOSTS),
the body limit, the audit address and the outage answers.

The wait pages under ``/webhooks/wait/`` render templates for people: they keep the full
chain.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from django.utils.module_loading import import_string

from .origin import WEBHOOK_PREFIX

# Pages for people (executions/pages/wait_views.py): sessions, CSRF and the UI's context.
_FULL_CHAIN_PREFIX = f"{WEBHOOK_PREFIX}wait/"

Handler = Callable[[HttpRequest], HttpResponse]


class _ShortChain(BaseHandler):
    """Django's (sync) request handling over its own list of middlewares."""

    # BaseHandler's, undeclared in django-stubs: resolve, view middleware, view, errors.
    _get_response: Handler

    def __init__(self, middleware: Sequence[str]) -> None:
        self._middleware_paths = tuple(middleware)
        self.load_middleware()

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware, minus what only an async or DEBUG stack needs; it
        # reads settings.MIDDLEWARE itself, so it cannot be given another list.
        views: list[Any] = []
        templates: list[Any] = []
        exceptions: list[Any] = []
        handler: Any = convert_exception_to_response(self._get_response)
        for path in reversed(self._middleware_paths):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                views.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                templates.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                exceptions.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._view_middleware = views
        self._template_response_middleware = templates
        self._exception_middleware = exceptions
        self._middleware_chain = handler

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self._middleware_chain(request)
        return response

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        # Only the webhook routes: walking the whole URL conf (admin, API, every page)
        # to reach them was a twelfth of a call's CPU. reverse() still sees all routes.
        match = _webhook_resolver().resolve(request.path_info)
        request.resolver_match = match
        return match


@functools.cache
def _webhook_resolver() -> URLResolver:
    """The root URL conf's own webhook routes, in its order (tests/workflows/
    test_webhook_lane.py checks they resolve every webhook URL as the root does)."""
    routes = [
        route
        for route in get_resolver().url_patterns
        if str(route.pattern).startswith(WEBHOOK_PREFIX[1:])
        and not str(route.pattern).startswith(_FULL_CHAIN_PREFIX[1:])
    ]
    return URLResolver(RegexPattern(r"^/"), routes)


class WebhookLaneMiddleware:
    """Serve webhook calls through WEBHOOK_MIDDLEWARE; everything else goes on down
    MIDDLEWARE."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self._lane = _ShortChain(settings.WEBHOOK_MIDDLEWARE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(WEBHOOK_PREFIX) and not path.startswith(_FULL_CHAIN_PREFIX):
            return self._lane(request)
        return self.get_response(request)
