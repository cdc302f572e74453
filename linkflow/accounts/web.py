"""What every page of the web UI shares: the signed-in user's current workspace and role.

Pages act in one workspace at a time, remembered in the session and changed with the
switcher in the header. Page views are wrapped in ``page()``, which signs the visitor in,
resolves the workspace and turns LinkFlow's errors into the right error page, so a view
body only calls selectors and services.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from linkflow.core.errors import LinkflowError, NotFound, PermissionDenied

from .caller import Actor, Caller
from .http import AuthenticatedHttpRequest, WorkspaceHttpRequest
from .models import WRITER_ROLES, Role, Workspace
from .selectors import ROLE_RANK, workspace_default_for, workspace_get, workspace_list

SESSION_KEY = "workspace_id"

View = Callable[..., HttpResponse]


def current_workspace(request: HttpRequest, *, caller: Actor) -> Workspace:
    """The workspace the visitor works in: the one chosen in the session while they are
    still a member of it, else their default. Raises NotFound when they belong to none."""
    chosen = request.session.get(SESSION_KEY)
    if chosen:
        try:
            return workspace_get(user=caller, id=chosen)
        except NotFound:
            request.session.pop(SESSION_KEY, None)
    workspace = workspace_default_for(user=caller)
    return workspace_get(user=caller, id=workspace.pk)


def role_at_least(role: str | None, at_least: Role) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[at_least]


def page(*, at_least: Role = Role.VIEWER) -> Callable[[View], View]:
    """Decorate a page view: sign-in required, ``request.caller``, ``request.workspace`` and
    ``request.role`` set (see ``WorkspaceHttpRequest``), the role checked, and LinkFlow's
    NotFound/PermissionDenied shown as the 404/403 pages (a foreign object looks like a
    missing one)."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: WorkspaceHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                # A page is a person signed in: no key confines them; the role cache is
                # this request's, so the role read with the workspace answers the checks.
                request.caller = Caller.person(request.user)
                workspace = current_workspace(request, caller=request.caller)
                request.workspace = workspace
                request.role = workspace.role  # type: ignore[attr-defined]
                if not role_at_least(request.role, at_least):
                    raise PermissionDenied(f"This page needs the {at_least.label.lower()} role.")
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            except PermissionDenied as exc:
                raise DjangoPermissionDenied(exc.message) from exc

        return wrapper

    return decorate


def show_error(form: Form, error: LinkflowError) -> None:
    """Put a service's error on the form: next to each field its details name, the rest
    above the form. Details may be ``{field: [messages]}`` or ``{field: message}``."""
    details = error.details if isinstance(error.details, dict) else {}
    placed = False
    for field, problems in details.items():
        if field in form.fields:
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(field, str(problem))
            placed = True
    if not placed:
        form.add_error(None, error.message)


def safe_next(request: HttpRequest, fallback: str = "home") -> HttpResponseRedirect:
    """Redirect to the ``next`` the request names when it is on this site, else fallback."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(fallback)


@require_POST
@login_required
def workspace_switch(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Make another of the visitor's workspaces the current one."""
    try:
        workspace = workspace_get(user=request.user, id=request.POST.get("workspace"))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    request.session[SESSION_KEY] = str(workspace.pk)
    messages.success(request, f"Now working in {workspace.name}.")
    return safe_next(request)


def workspace_nav(request: HttpRequest) -> dict[str, Any]:
    """Template context for the header: the current workspace, the others, the role and
    what it allows (``can_edit`` to change and run workflows, ``can_manage`` for members,
    credentials and keys)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    caller: Actor = getattr(request, "caller", user)
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        try:
            workspace = current_workspace(request, caller=caller)
        except LinkflowError:
            return {"nav_workspaces": []}
    # Annotated by workspace_get, like every workspace a page is given.
    role: str | None = getattr(workspace, "role", None)
    return {
        "current_workspace": workspace,
        "nav_workspaces": workspace_list(user=caller).order_by("name"),
        "role": role,
        "can_edit": role in WRITER_ROLES,
        "can_manage": role_at_least(role, Role.ADMIN),
    }
