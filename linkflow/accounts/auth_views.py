"""The JWT sign-in endpoint, with failed attempts limited per address and e-mail."""

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView

from .login_throttle import client_address, login_failed, login_retry_after, login_succeeded


class ThrottledTokenObtainPairView(TokenObtainPairView):
    """simplejwt's token pair view; after too many wrong passwords it answers 429."""

    throttle_scope = "auth"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        address = client_address(request)
        email = _email(request)
        wait = login_retry_after(address=address, email=email)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="Too many failed sign-ins.")
        try:
            response = super().post(request, *args, **kwargs)
        except exceptions.AuthenticationFailed:
            login_failed(address=address, email=email)
            raise
        login_succeeded(address=address, email=email)
        return response


def _email(request: Request) -> str:
    # Any JSON may arrive; only a string under "email" names an account.
    data = request.data
    value = data.get("email") if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""
