from typing import Any

from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    """Encrypted credentials, their types, the resolver, OAuth2 and secret redaction."""

    name = "credentials"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        setting_changed.connect(_keys_changed, dispatch_uid="credentials.keys_changed")


def _keys_changed(*, setting: str, **_: Any) -> None:
    # The MultiFernet is cached; a test (or reload) that swaps the keys must not keep it.
    if setting == "LINKFLOW_CREDENTIAL_KEYS":
        from .crypto import keys_changed

        keys_changed()
