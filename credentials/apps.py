from typing import Any

from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    """Encrypted credentials, their types, the resolver, OAuth2 and secret redaction."""

    name = "credentials"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from workflows.references import register_credential_types

        from .selectors import credential_types_by_id

        setting_changed.connect(_keys_changed, dispatch_uid="credentials.keys_changed")
        # Saving a workflow checks its credentials, a floor up: it reads them through this.
        register_credential_types(credential_types_by_id)


def _keys_changed(*, setting: str, **_: Any) -> None:
    # The MultiFernet is cached; a test (or reload) that swaps the keys must not keep it.
    if setting == "LINKFLOW_CREDENTIAL_KEYS":
        from .crypto import keys_changed

        keys_changed()
