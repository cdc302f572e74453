"""Operator checks (``manage.py check``; ``--deploy`` adds the deployment ones).

Production here means what settings.py calls ``LINKFLOW_PRODUCTION``: DEBUG off and
DATABASE_URL or REDIS_URL set. The embedded single-machine mode is never held to these.
An unset SECRET_KEY is refused earlier, when the settings load.
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections


@register(Tags.security)
def check_allowed_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production must name the host names it answers to, not rely on the local default."""
    if not settings.LINKFLOW_PRODUCTION or settings.LINKFLOW_ALLOWED_HOSTS_SET:
        return []
    return [
        Error(
            "ALLOWED_HOSTS is not set for a production deployment.",
            hint="Set ALLOWED_HOSTS to the comma-separated host names LinkFlow is served "
            "under, e.g. ALLOWED_HOSTS=linkflow.example.com.",
            id="linkflow.E001",
        )
    ]


@register(Tags.security)
def check_password_validators(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Passwords set through the admin and management commands must be validated."""
    if settings.AUTH_PASSWORD_VALIDATORS:
        return []
    return [
        Error(
            "AUTH_PASSWORD_VALIDATORS is empty: any password would be accepted.",
            id="linkflow.E002",
        )
    ]


@register(Tags.security, deploy=True)
def check_https(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production without LINKFLOW_HTTPS sends cookies in the clear and no HSTS."""
    if not settings.LINKFLOW_PRODUCTION or settings.LINKFLOW_HTTPS:
        return []
    return [
        Warning(
            "LINKFLOW_HTTPS is off: session and CSRF cookies are not marked secure and no "
            "HSTS header is sent.",
            hint="Serve LinkFlow over HTTPS and set LINKFLOW_HTTPS=true (behind a "
            "TLS-terminating proxy also LINKFLOW_TRUST_X_FORWARDED_PROTO=true).",
            id="linkflow.W001",
        )
    ]


@register(Tags.security)
def check_webhook_origin(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A separate webhook origin must be another host than the UI: cookies ignore ports,
    so a second port on the UI's host would receive the UI's session cookie."""
    base = settings.LINKFLOW_WEBHOOK_BASE_URL
    if not base:
        return []
    webhook_host = urlsplit(base).hostname
    ui_host = urlsplit(settings.LINKFLOW_PUBLIC_URL).hostname
    if webhook_host != ui_host:
        return []
    return [
        Error(
            f"LINKFLOW_WEBHOOK_BASE_URL ({base}) has the UI's host ({ui_host}): the UI's "
            "cookies would be sent to the webhook origin.",
            hint="Serve webhooks from another host name (e.g. hooks.example.com for "
            "linkflow.example.com; better, another registrable domain), or unset it.",
            id="linkflow.E003",
        )
    ]


@register(Tags.database)
def check_postgres_autovacuum(
    app_configs: Any = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """PostgreSQL with autovacuum off never reclaims the row versions every execution
    leaves behind (its status changes three times, each a new version with an entry in
    every index of the table): the table and its indexes only grow, each dispatch's count
    of a workspace's running executions reads more dead entries, and nothing keeps
    transaction ids from wrapping around. Run by ``migrate`` and ``check --database``."""
    found: list[CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute("SHOW autovacuum")
                (autovacuum,) = cursor.fetchone()
        except DatabaseError:
            continue  # an unreachable database is reported by whatever needed it
        if autovacuum != "on":
            found.append(
                Warning(
                    f"PostgreSQL's autovacuum is off for the database {alias!r}: the "
                    "executions table and its indexes will grow without end and slow "
                    "down.",
                    hint="Turn it back on (autovacuum = on in postgresql.conf, then reload), "
                    "or run VACUUM (ANALYZE) on a schedule of your own.",
                    id="linkflow.W002",
                )
            )
    return found
