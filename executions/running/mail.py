"""The engine's Mailer, implemented with Django's SMTP machinery (used by notify.email).

A workflow's SMTP host is untrusted like any URL in a node: its connection goes through the
same address policy as http.request (linkflow.engine.net.open_guarded_socket), so a mail
node can neither reach the platform's own network nor probe which of its ports are open,
and every step of the conversation is bounded by the node's time left.
"""

from __future__ import annotations

import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend

from linkflow.engine.net import AddressPolicy, open_guarded_socket

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

DEFAULT_SMTP_TIMEOUT_SECONDS = 30.0


class SMTPTimeout(TimeoutError):
    """The SMTP conversation did not finish within the caller's timeout."""


class GuardedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose socket comes from open_guarded_socket and whose conversation
    ends at ``deadline`` (a time.monotonic() value).

    Each command and reply waits at most ``timeout`` and at most until the deadline, and a
    watchdog shuts the socket down at the deadline: smtplib reads a multi-line reply line
    by line with no limit on the lines, so a server trickling continuation lines could
    otherwise hold a worker for ever while every single read stays within the timeout.
    """

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        *args: Any,
        policy: AddressPolicy,
        deadline: float,
        **kwargs: Any,
    ) -> None:
        self._guard(policy=policy, deadline=deadline)
        super().__init__(host, port, *args, **kwargs)

    def _guard(self, *, policy: AddressPolicy, deadline: float) -> None:
        # Before smtplib's __init__, which connects when it is given a host.
        self._policy = policy
        self._deadline = deadline
        self._watchdog: threading.Timer | None = None
        self._expired = False

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = open_guarded_socket(
            host,
            port,
            timeout=min(timeout, self._time_left()),
            policy=self._policy,
            source_address=_bind_address(self.source_address),
        )
        self._watchdog = threading.Timer(self._time_left(), self._expire, args=(sock,))
        self._watchdog.daemon = True
        self._watchdog.start()
        return sock

    def _expire(self, sock: socket.socket) -> None:
        self._expired = True
        with suppress(OSError):  # closed meanwhile: nothing left to stop
            sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        super().close()

    def send(self, s: ReadableBuffer | str) -> None:
        self._arm()
        with self._timeouts_named():
            super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        self._arm()
        with self._timeouts_named():
            return super().getreply()

    @contextmanager
    def _timeouts_named(self) -> Iterator[None]:
        # smtplib reports a timed-out or shut-down socket as "Connection unexpectedly
        # closed"; the caller needs to know it was the time limit.
        try:
            yield
        except smtplib.SMTPServerDisconnected as error:
            if self._expired or isinstance(error.__context__, TimeoutError):
                raise SMTPTimeout(
                    f"the SMTP server did not answer within {self.timeout:g} s"
                ) from error
            raise

    def _arm(self) -> None:
        if self.sock is not None:
            self.sock.settimeout(min(self.timeout, self._time_left()))

    def _time_left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0 or self._expired:
            raise SMTPTimeout(f"the SMTP server did not finish within {self.timeout:g} s")
        return left


def _bind_address(source: object) -> tuple[str, int] | None:
    # smtplib accepts more shapes than the guarded socket binds; nothing here sets one.
    if source is None:
        return None
    if isinstance(source, tuple) and len(source) == 2:
        host, port = source
        if isinstance(host, str) and isinstance(port, int):
            return host, port
    raise TypeError(f"a guarded SMTP connection cannot bind to {source!r}")


class GuardedSMTPSSL(smtplib.SMTP_SSL, GuardedSMTP):
    """Implicit TLS over a guarded socket: SMTP_SSL wraps what GuardedSMTP opened."""

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        *args: Any,
        policy: AddressPolicy,
        deadline: float,
        **kwargs: Any,
    ) -> None:
        # SMTP_SSL calls SMTP.__init__ by name, skipping GuardedSMTP's.
        self._guard(policy=policy, deadline=deadline)
        smtplib.SMTP_SSL.__init__(self, host, port, *args, **kwargs)


class GuardedEmailBackend(EmailBackend):
    """Django's SMTP backend connecting through GuardedSMTP / GuardedSMTPSSL."""

    def __init__(self, *, policy: AddressPolicy, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._policy = policy
        self._deadline = deadline

    @property
    def connection_class(self) -> Any:
        base = GuardedSMTPSSL if self.use_ssl else GuardedSMTP
        policy, deadline = self._policy, self._deadline

        def connect(host: str, port: int, **params: Any) -> smtplib.SMTP:
            return base(host, port, policy=policy, deadline=deadline, **params)

        return connect


class DjangoMailer:
    """Sends a notify.email message through the SMTP server of the node's credential.

    Stateless apart from its address policy: each ``send`` opens its own connection, so
    threads may share one instance. The project's EMAIL_* settings are never used for a
    workflow's mail: a credential without a username must not log in as the platform.
    The default policy refuses every internal address (see linkflow.engine.net).
    """

    def __init__(self, *, policy: AddressPolicy | None = None) -> None:
        self.policy = policy or AddressPolicy()

    def send(
        self,
        *,
        smtp: dict[str, Any],
        message: dict[str, Any],
        timeout: float = DEFAULT_SMTP_TIMEOUT_SECONDS,
    ) -> None:
        """Send ``message`` ({"from", "to", "cc"?, "subject", "text", "html"?,
        "attachments"?: [{"name", "content", "content_type"}]}) through
        ``smtp`` ({"host", "port", "username"?, "password"?, "security"}: "none",
        "starttls" or "tls" for implicit TLS), all of it within ``timeout`` seconds.

        Raises BlockedAddress (an OSError) when the policy refuses the host, before any
        packet is sent to it; SMTPTimeout or another TimeoutError past ``timeout``; else
        what Django and smtplib raise (OSError, smtplib.SMTPException, a BadHeaderError
        for a header with a line break, ValueError for an unknown security), or
        RuntimeError when the server accepted nothing.
        """
        email = EmailMultiAlternatives(
            subject=message["subject"],
            body=message["text"],
            from_email=message["from"],
            to=list(message["to"]),
            cc=list(message.get("cc") or ()),
            connection=self._connection(smtp, timeout=timeout),
        )
        if message.get("html"):
            email.attach_alternative(message["html"], "text/html")
        for attachment in message.get("attachments") or ():
            email.attach(attachment["name"], attachment["content"], attachment["content_type"])
        if email.send(fail_silently=False) != 1:
            raise RuntimeError("the SMTP server accepted no message")

    def _connection(self, smtp: dict[str, Any], *, timeout: float) -> GuardedEmailBackend:
        security = smtp.get("security", "starttls")
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown SMTP security {security!r}")
        return GuardedEmailBackend(
            policy=self.policy,
            deadline=time.monotonic() + timeout,
            fail_silently=False,
            host=smtp["host"],
            port=int(smtp["port"]),
            # "" rather than None: None would make Django fall back to EMAIL_HOST_USER.
            username=smtp.get("username") or "",
            password=smtp.get("password") or "",
            use_tls=security == "starttls",
            use_ssl=security == "tls",
            timeout=timeout,
        )
