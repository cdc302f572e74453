"""The plan's API budget: ``api_requests_per_minute`` for each workspace's API keys."""

from typing import Any

from django.core.cache import cache
from rest_framework.request import Request

from linkflow.core.throttling import WindowThrottle

# A plan change takes effect within this long; reading the plan on every request would
# cost a query per API call.
_PLAN_CACHE_SECONDS = 60


class WorkspacePlanThrottle(WindowThrottle):
    """Counts requests made with a workspace's API keys against its plan's per-minute rate.

    Users signed in with a token are not counted here: a user's request does not belong to
    one workspace until the view has loaded its object (their per-user rates still apply).
    """

    def bucket(self, request: Request, view: Any) -> tuple[str, str] | None:
        auth = getattr(request, "auth", None)
        workspace_id = getattr(auth, "workspace_id", None) if hasattr(auth, "prefix") else None
        if workspace_id is None:
            return None
        rate = _plan_rate(workspace_id)
        return None if rate is None else (f"plan:{workspace_id}", rate)


def _plan_rate(workspace_id: object) -> str | None:
    key = f"billing:rpm:{workspace_id}"
    cached = cache.get(key)
    if cached is None:
        from .selectors import plan_for  # DRF imports this module before the apps are ready

        per_minute = plan_for(workspace_id).api_requests_per_minute
        cached = "" if per_minute is None else f"{per_minute}/min"
        cache.set(key, cached, timeout=_PLAN_CACHE_SECONDS)
    return cached or None
