from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Plans, subscriptions and usage metering (models arrive with the limits work)."""

    name = "billing"
