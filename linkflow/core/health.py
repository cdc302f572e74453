"""Probes and metrics for operators and orchestrators.

- ``/healthz``: the process is up and serving (liveness); touches nothing else.
- ``/readyz``: PostgreSQL and Redis answer (readiness); 503 listing what failed otherwise,
  so a load balancer stops sending traffic to a process that cannot serve it.
- ``/metrics``: Prometheus exposition (see metrics.py), behind a bearer token when
  ``LINKFLOW_METRICS_TOKEN`` is set; in production without a token it is not served (404).
"""

import contextlib
import hmac
import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from .api import error_body
from .errors import ErrorCode
from .metrics import metrics_text
from .outages import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok()}
    if settings.REDIS_URL:  # embedded mode has no Redis to wait for
        checks["redis"] = _redis_ok(settings.REDIS_URL)
    failed = [name for name, ok in checks.items() if not ok]
    if not failed:
        return JsonResponse({"status": "ok", "checks": dict.fromkeys(checks, "ok")})
    details = {
        "failed": failed,
        "checks": {name: "ok" if ok else "unavailable" for name, ok in checks.items()},
    }
    body = error_body(ErrorCode.SERVICE_UNAVAILABLE, "LinkFlow is not ready to serve.", details)
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except Exception as exc:
        logger.warning("readyz: database unavailable: %r", exc)
        with contextlib.suppress(Exception):
            connection.close()  # do not hand a broken connection to the next request
        return False


def _redis_ok(url: str) -> bool:
    import redis

    from .metrics import probe_redis

    client = probe_redis(url)
    try:
        return bool(client.ping())
    except redis.RedisError as exc:
        logger.warning("readyz: redis unavailable: %r", exc)
        return False
    finally:
        client.close()


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition. With ``LINKFLOW_METRICS_TOKEN`` set it needs that bearer
    token (401 otherwise). Without one it is open in the embedded and DEBUG modes only:
    in production (LINKFLOW_PRODUCTION) it answers 404, so a deployment never publishes
    its counts (workspaces, queue depth, failures) to the internet by accident."""
    token = settings.LINKFLOW_METRICS_TOKEN
    if not token and settings.LINKFLOW_PRODUCTION:
        return JsonResponse(error_body(ErrorCode.NOT_FOUND, "Not found."), status=404)
    if token and not _bearer_matches(request, token):
        body = error_body(ErrorCode.NOT_AUTHENTICATED, "A valid metrics token is required.")
        response = JsonResponse(body, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time: the comparison must not reveal how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
