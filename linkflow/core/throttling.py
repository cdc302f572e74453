"""Rate limits: fixed windows counted with one atomic increment per request.

Every request is counted against ``(endpoint group, caller)`` where the group is the view's
``throttle_scope`` (``default`` unless a view names ``auth`` or ``execute``) and the caller
is the API key, else the user, else the client address (``client_ip.client_address``: the
peer, unless it is a trusted proxy). The ``auth`` group (token
endpoints) always counts by address: it guards passwords, and its callers have no identity
yet. Rates come from ``settings.LINKFLOW_RATES`` (``LINKFLOW_RATE_<GROUP>`` variables).

With Redis, a window is one key: ``INCR`` then ``EXPIRE NX`` in one Lua script (atomic,
one round trip), so concurrent web processes share it and it never needs a
read-modify-write (DRF's SimpleRateThrottle keeps a list of timestamps per caller and
rewrites it on every request: racy and heavier). The script, not a MULTI pipeline: a
pipeline costs redis-py about twice the Python work per request.
Embedded, the local-memory cache's ``add`` + ``incr`` does the same inside the process.

DRF imports the throttle classes while it defines APIView: import nothing here at module
level that needs rest_framework.views or the app registry.
"""

import functools
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .client_ip import client_address
from .errors import ErrorCode, error_body

_UNITS = {1: ("s", "sec", "second"), 60: ("m", "min", "minute"), 3600: ("h", "hour")}
_UNITS[86400] = ("d", "day")
_PERIODS = {name: seconds for seconds, names in _UNITS.items() for name in names}
_PERIODS |= {f"{name}s": seconds for name, seconds in _PERIODS.items() if len(name) > 1}
_KEY_PREFIX = "linkflow:rl"


@functools.lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` -> ``(600, 60)``: requests allowed per window of that many seconds."""
    count, _, unit = rate.strip().partition("/")
    unit = unit.strip().lower()
    if not count.strip().isdigit() or unit not in _PERIODS:
        raise ImproperlyConfigured(f"A rate looks like '600/min', not {rate!r}.")
    return int(count), _PERIODS[unit]


# KEYS[1] the window's counter, ARGV[1] its lifetime: the count so far, this request in it.
_WINDOW_HIT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return count
"""


@functools.lru_cache(maxsize=1)
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@functools.lru_cache(maxsize=1)
def _window_script(client: Any) -> Any:
    # Per client, so a new client (tests pointing REDIS_URL elsewhere) gets its own.
    # Called as EVALSHA, loading the script again if Redis forgot it (a restart).
    return client.register_script(_WINDOW_HIT)


def window_hit(*, key: str, period: int) -> tuple[int, float]:
    """Count one request for ``key`` in the current ``period``-second window.

    Returns the requests counted in this window so far (this one included) and the seconds
    until the window ends.
    """
    now = time.time()
    window = int(now // period)
    name = f"{_KEY_PREFIX}:{key}:{period}:{window}"
    remaining = (window + 1) * period - now
    if settings.REDIS_URL:
        count = int(_window_script(_redis())(keys=[name], args=[period + 1]))
    else:
        cache.add(name, 0, timeout=period + 1)
        try:
            count = int(cache.incr(name))
        except ValueError:  # evicted between add and incr: start the window again
            cache.set(name, 1, timeout=period + 1)
            count = 1
    return count, remaining


def limit_wait(*, key: str, rate: str) -> int | None:
    """Count one request under ``key`` at ``rate``; None when allowed, else the whole seconds
    to wait until the window ends (for Retry-After)."""
    allowed, period = parse_rate(rate)
    count, remaining = window_hit(key=key, period=period)
    if count <= allowed:
        return None
    return max(1, math.ceil(remaining))


def rate_limit_wait(*, scope: str, ident: str) -> int | None:
    """``limit_wait`` for caller ``ident`` in endpoint group ``scope`` at its configured rate."""
    return limit_wait(key=f"{scope}:{ident}", rate=settings.LINKFLOW_RATES[scope])


class WindowThrottle(BaseThrottle):
    """A DRF throttle over ``limit_wait``; subclasses say which bucket a request counts in."""

    def __init__(self) -> None:
        self._wait: int | None = None

    def bucket(self, request: Request, view: Any) -> tuple[str, str] | None:
        """``(key, rate)`` to count the request under, or None not to count it."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        bucket = self.bucket(request, view)
        if bucket is None:
            return True
        key, rate = bucket
        self._wait = limit_wait(key=key, rate=rate)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait

    def get_ident(self, request: Request) -> str:
        """The client address (client_ip.client_address). DRF's own get_ident believes
        any X-Forwarded-For unless NUM_PROXIES is set: a rotating header would put every
        request in a fresh bucket."""
        return client_address(request)


class CallerRateThrottle(WindowThrottle):
    """Per endpoint group (the view's ``throttle_scope``; ``auth`` for the JWT token views)
    and per API key, user or address."""

    def bucket(self, request: Request, view: Any) -> tuple[str, str] | None:
        scope = _scope(view)
        if scope == "auth":
            ident = f"ip:{self.get_ident(request)}"
        else:
            ident = caller_ident(request, fallback=self.get_ident(request))
        return f"{scope}:{ident}", settings.LINKFLOW_RATES[scope]


def _scope(view: Any) -> str:
    # Every token endpoint (obtain, refresh, revoke) guards credentials: the tight group.
    from rest_framework_simplejwt.views import TokenViewBase

    if isinstance(view, TokenViewBase):
        return "auth"
    return getattr(view, "throttle_scope", None) or "default"


def caller_ident(request: Request, *, fallback: str) -> str:
    """Who is calling: the API key (an ApiKey has a ``prefix``), else the user, else
    ``fallback`` (the client address)."""
    auth = getattr(request, "auth", None)
    if auth is not None and hasattr(auth, "prefix"):
        return f"key:{auth.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{fallback}"


def webhook_throttled(request: HttpRequest) -> HttpResponse | None:
    """For the plain-Django webhook views: count the call against the ``execute`` budget of
    its URL (its token, or workspace and path) and answer 429 in the error shape when over."""
    # DRF imports this module while it defines APIView, which linkflow.core.api needs.
    wait = rate_limit_wait(scope="execute", ident=f"webhook:{request.path.rstrip('/')}")
    if wait is None:
        return None
    body = error_body(ErrorCode.THROTTLED, f"Request was throttled. Retry in {wait} seconds.")
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(wait)
    return response
