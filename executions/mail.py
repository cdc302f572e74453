"""The engine's Mailer, implemented with Django's SMTP machinery (used by notify.email)."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DEFAULT_SMTP_TIMEOUT_SECONDS = 30.0


class DjangoMailer:
    """Sends a notify.email message through the SMTP server of the node's credential.

    Stateless apart from the timeout: each ``send`` opens its own connection, so threads
    may share one instance. The project's EMAIL_* settings are never used for a
    workflow's mail: a credential without a username must not log in as the platform.
    """

    def __init__(self, *, timeout: float = DEFAULT_SMTP_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout

    def send(self, *, smtp: dict[str, Any], message: dict[str, Any]) -> None:
        """Send ``message`` ({"from", "to", "cc"?, "subject", "text", "html"?}) through
        ``smtp`` ({"host", "port", "username"?, "password"?, "security"}: "none",
        "starttls" or "tls" for implicit TLS).

        Raises what Django and smtplib raise (OSError, smtplib.SMTPException, a
        BadHeaderError for a header with a line break, ValueError for an unknown
        security), or RuntimeError when the server accepted nothing.
        """
        email = EmailMultiAlternatives(
            subject=message["subject"],
            body=message["text"],
            from_email=message["from"],
            to=list(message["to"]),
            cc=list(message.get("cc") or ()),
            connection=self._connection(smtp),
        )
        if message.get("html"):
            email.attach_alternative(message["html"], "text/html")
        if email.send(fail_silently=False) != 1:
            raise RuntimeError("the SMTP server accepted no message")

    def _connection(self, smtp: dict[str, Any]) -> Any:
        security = smtp.get("security", "starttls")
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown SMTP security {security!r}")
        return get_connection(
            SMTP_BACKEND,
            fail_silently=False,
            host=smtp["host"],
            port=int(smtp["port"]),
            # "" rather than None: None would make Django fall back to EMAIL_HOST_USER.
            username=smtp.get("username") or "",
            password=smtp.get("password") or "",
            use_tls=security == "starttls",
            use_ssl=security == "tls",
            timeout=self.timeout,
        )
