from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "linkflow.accounts"
    label = "accounts"
    verbose_name = "Accounts and workspaces"
