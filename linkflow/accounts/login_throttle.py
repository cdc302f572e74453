"""Failed sign-ins, counted per client address and e-mail, and per address, in the cache.

After ``LINKFLOW_LOGIN_MAX_FAILURES`` failures within ``LINKFLOW_LOGIN_LOCKOUT_SECONDS`` of
the first one, that address may not try that e-mail again until the window ends: password
guessing gets a handful of tries per quarter hour instead of thousands, and a stranger
guessing from elsewhere cannot lock the real user out. Across e-mails, one address gets
``LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS`` failures per window (trying one common password
on many accounts). A successful sign-in clears the count of its address and e-mail only:
the per-address count would otherwise be reset by signing in to an account of one's own
between guesses. Used by the JWT token view (``auth_views.py``), the sign-in page
(``forms.py``) and, through ``AdminLoginThrottleMiddleware``, the Django admin login.

The address is ``linkflow.core.client_ip.client_address``: the connection's peer, never a
header the client chose, unless it comes through a proxy named in
``LINKFLOW_TRUSTED_PROXIES``.

The counts are ``cache.add`` + ``cache.incr`` (atomic in Redis and in the local-memory
cache), so concurrent guesses on several web processes are all counted.
"""

import hashlib
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

from linkflow.core.client_ip import client_address

__all__ = [
    "AdminLoginThrottleMiddleware",
    "client_address",
    "login_failed",
    "login_retry_after",
    "login_succeeded",
    "reset_mail_allowed",
]

_KEY_PREFIX = "linkflow:login-failures"


def _keys(ident: str) -> tuple[str, str]:
    # Hashed: e-mail addresses never appear in cache keys, and odd characters are harmless.
    digest = hashlib.sha256(ident.encode()).hexdigest()
    return f"{_KEY_PREFIX}:{digest}:count", f"{_KEY_PREFIX}:{digest}:since"


def _pair(*, address: str, email: str) -> tuple[str, str]:
    return _keys(f"{address}|{email.strip().lower()}")


def _address_only(*, address: str) -> tuple[str, str]:
    return _keys(f"address|{address}")


def _wait(keys: tuple[str, str], limit: int) -> int | None:
    count_key, since_key = keys
    if int(cache.get(count_key) or 0) < limit:
        return None
    since = float(cache.get(since_key) or time.time())
    remaining = since + settings.LINKFLOW_LOGIN_LOCKOUT_SECONDS - time.time()
    return max(1, math.ceil(remaining))


def _count(keys: tuple[str, str]) -> None:
    count_key, since_key = keys
    window = settings.LINKFLOW_LOGIN_LOCKOUT_SECONDS
    cache.add(since_key, time.time(), timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr: this failure opens a new window
        cache.set(count_key, 1, timeout=window)


def login_retry_after(*, address: str, email: str) -> int | None:
    """None while sign-in attempts are allowed, else the whole seconds until they are:
    locked when this address failed too often for this e-mail, or for any e-mails."""
    waits = [
        _wait(_pair(address=address, email=email), settings.LINKFLOW_LOGIN_MAX_FAILURES),
        _wait(_address_only(address=address), settings.LINKFLOW_LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]
    found = [wait for wait in waits if wait is not None]
    return max(found) if found else None


def login_failed(*, address: str, email: str) -> None:
    """Count one failed sign-in for the address and e-mail, and for the address; each
    window starts with its first failure."""
    _count(_pair(address=address, email=email))
    _count(_address_only(address=address))


def login_succeeded(*, address: str, email: str) -> None:
    """Forget the failures of this address and e-mail (not the address's own count)."""
    cache.delete_many(list(_pair(address=address, email=email)))


def reset_mail_allowed(*, email: str) -> bool:
    """Count one password-reset mail to ``email``; False once
    ``LINKFLOW_PASSWORD_RESET_MAX`` were sent within ``LINKFLOW_PASSWORD_RESET_WINDOW_SECONDS``.

    Keeps the reset form from being used to flood someone's inbox. Counted whether or not
    an account has that e-mail, so the answer reveals nothing either way.
    """
    ident = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    key = f"linkflow:reset-mails:{ident}"
    cache.add(key, 0, timeout=settings.LINKFLOW_PASSWORD_RESET_WINDOW_SECONDS)
    try:
        sent = cache.incr(key)
    except ValueError:  # expired between add and incr: a new window starts
        cache.set(key, 1, timeout=settings.LINKFLOW_PASSWORD_RESET_WINDOW_SECONDS)
        sent = 1
    return int(sent) <= settings.LINKFLOW_PASSWORD_RESET_MAX


class AdminLoginThrottleMiddleware:
    """The same limit on the Django admin's login form.

    The admin answers a failed sign-in by showing the form again (200) and a successful
    one with a redirect (302); that is how the outcome is told apart here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path != _admin_login_path():
            return self.get_response(request)
        address = client_address(request)
        email = str(request.POST.get("username", ""))
        wait = login_retry_after(address=address, email=email)
        if wait is not None:
            response = HttpResponse(
                "Too many failed sign-ins. Try again later.",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(wait)
            return response
        response = self.get_response(request)
        if response.status_code == 200:
            login_failed(address=address, email=email)
        elif response.status_code == 302:
            login_succeeded(address=address, email=email)
        return response


def _admin_login_path() -> str | None:
    try:
        return reverse("admin:login")
    except NoReverseMatch:
        return None
