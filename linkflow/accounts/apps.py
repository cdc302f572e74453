from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "linkflow.accounts"
    label = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (registers the OpenAPI authentication schemes)
