"""Make sure the operator account from LINKFLOW_ADMIN_EMAIL exists (used by `make run`)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from linkflow.accounts.services import AdminEnsured, admin_ensure


def admin_notice(outcome: AdminEnsured) -> str:
    """What to tell the operator about the admin account, in a few lines. A generated
    password comes framed, so it stands out of the start-up log it is printed after."""
    if outcome.action == "kept":
        return (
            f"Admin user {outcome.email} exists; its password was not changed "
            "(set LINKFLOW_ADMIN_PASSWORD to reset it, or run "
            f"`python manage.py changepassword {outcome.email}`)."
        )
    if outcome.action == "reset":
        return f"Admin user {outcome.email}: password reset from LINKFLOW_ADMIN_PASSWORD."
    if outcome.password is None:
        return f"Created admin user {outcome.email} with the password LINKFLOW_ADMIN_PASSWORD."
    lines = [
        f"Created admin user {outcome.email}",
        f"Password (shown once, stored hashed): {outcome.password}",
        f"Change it: python manage.py changepassword {outcome.email}",
    ]
    width = max(map(len, lines))
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


class Command(BaseCommand):
    help = (
        "Create the admin user from LINKFLOW_ADMIN_EMAIL if missing (password from "
        "LINKFLOW_ADMIN_PASSWORD, else generated and printed once); on an existing admin a "
        "set LINKFLOW_ADMIN_PASSWORD resets the password."
    )

    def handle(self, *args: object, **options: object) -> None:
        outcome = admin_ensure(
            email=settings.LINKFLOW_ADMIN_EMAIL, password=settings.LINKFLOW_ADMIN_PASSWORD
        )
        self.stdout.write(admin_notice(outcome))
