from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Who did what, when, from where: an append-only log per workspace."""

    name = "linkflow.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # Signing in happens in Django's and DRF's machinery, not in a LinkFlow service:
        # the signal is the one hook every session sign-in passes through.
        from django.contrib.auth.signals import user_logged_in

        from .receivers import record_sign_in

        user_logged_in.connect(record_sign_in, dispatch_uid="linkflow.audit.sign_in")
