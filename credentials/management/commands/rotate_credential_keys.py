"""Re-encrypt every credential with the newest key of LINKFLOW_CREDENTIAL_KEYS.

Put the new key first, deploy, run this, then drop the old key: until then old rows
still read, afterwards every row reads with the new key alone.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from credentials.crypto import rotate
from credentials.models import Credential


class Command(BaseCommand):
    help = "Re-encrypt every credential with the newest LINKFLOW_CREDENTIAL_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        for pk in Credential.objects.values_list("pk", flat=True).iterator():
            rotated += self._rotate_one(pk)
        self.stdout.write(f"Re-encrypted {rotated} credential(s) with the newest key.")

    def _rotate_one(self, pk: object) -> int:
        # A conditional UPDATE: a row changed meanwhile (a refreshed OAuth2 token) is read
        # again rather than overwritten with stale fields.
        for _ in range(5):
            secret = Credential.objects.filter(pk=pk).values_list("secret", flat=True).first()
            if secret is None:
                return 0  # deleted meanwhile
            try:
                new = rotate(secret)
            except Exception as error:  # InvalidToken: no configured key fits
                raise CommandError(f"Credential {pk} cannot be decrypted: {error!r}") from None
            if Credential.objects.filter(pk=pk, secret=secret).update(secret=new):
                return 1
        raise CommandError(f"Credential {pk} kept changing; run the command again.")
