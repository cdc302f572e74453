"""Operator checks (``manage.py check``; ``--deploy`` adds the deployment ones).

Production here means what settings.py calls ``LINKFLOW_PRODUCTION``: DEBUG off and
DATABASE_URL or REDIS_URL set. The embedded single-machine mode is never held to these.
An unset SECRET_KEY is refused earlier, when the settings load.
"""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


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
