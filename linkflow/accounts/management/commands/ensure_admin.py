"""Make sure the operator account from LINKFLOW_ADMIN_EMAIL exists (used by `make run`)."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from linkflow.accounts.models import User
from linkflow.accounts.services import user_create


class Command(BaseCommand):
    help = "Create the admin user from LINKFLOW_ADMIN_EMAIL/LINKFLOW_ADMIN_PASSWORD if missing."

    def handle(self, *args: object, **options: object) -> None:
        email = settings.LINKFLOW_ADMIN_EMAIL.lower()
        if User.objects.filter(email=email).exists():
            self.stdout.write(f"Admin user {email} exists.")
            return
        password = settings.LINKFLOW_ADMIN_PASSWORD
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user_create(email=email, password=password, is_staff=True)
        self.stdout.write(self.style.SUCCESS(f"Created admin user {email}."))
        if generated:
            # Shown once: it is stored hashed and cannot be read back.
            self.stdout.write(self.style.WARNING(f"Generated password (shown once): {password}"))
