from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    """Encrypted credentials and their resolver (models arrive with the credentials work)."""

    name = "credentials"
