"""Re-encrypt every credential with the newest key of LINKFLOW_CREDENTIAL_KEYS.

Put the new key first, deploy, run this, then drop the old key: until then old rows
still read, afterwards every row reads with the new key alone. Other columns encrypted
with these keys (registered through ``encrypted_column_register``, such as the secrets a
sub-workflow inherited) are re-encrypted too.
"""

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Model

from credentials.crypto import encrypted_columns, rotate
from credentials.models import Credential


class Command(BaseCommand):
    help = "Re-encrypt every credential with the newest LINKFLOW_CREDENTIAL_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = self._rotate_column(Credential, "secret")
        self.stdout.write(f"Re-encrypted {rotated} credential(s) with the newest key.")
        for label, field in encrypted_columns():
            count = self._rotate_column(apps.get_model(label), field)
            self.stdout.write(f"Re-encrypted {count} {label}.{field} value(s).")

    def _rotate_column(self, model: type[Model], field: str) -> int:
        rows = model._default_manager.exclude(**{field: ""}).values_list("pk", flat=True)
        return sum(self._rotate_one(model, field, pk) for pk in rows.iterator())

    def _rotate_one(self, model: type[Model], field: str, pk: object) -> int:
        # A conditional UPDATE: a row changed meanwhile (a refreshed OAuth2 token) is read
        # again rather than overwritten with stale fields.
        manager = model._default_manager
        for _ in range(5):
            token = manager.filter(pk=pk).values_list(field, flat=True).first()
            if token is None:
                return 0  # deleted meanwhile
            try:
                new = rotate(token)
            except Exception as error:  # InvalidToken: no configured key fits
                name = model._meta.label
                raise CommandError(f"{name} {pk} cannot be decrypted: {error!r}") from None
            if manager.filter(pk=pk, **{field: token}).update(**{field: new}):
                return 1
        raise CommandError(f"{model._meta.label} {pk} kept changing; run the command again.")
