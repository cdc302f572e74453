"""manage.py import_n8n FILE... --workspace ID [--user EMAIL]: import n8n exports."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from linkflow.accounts.models import WRITER_ROLES, Membership, User, Workspace
from linkflow.core.errors import LinkflowError
from workflows.importers.service import workflows_import_n8n


class Command(BaseCommand):
    help = (
        "Import n8n workflow exports (JSON files; a file may hold a list) into a workspace as "
        "new, inactive workflows, and print the report of each."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--workspace", required=True, help="The workspace's id.")
        parser.add_argument(
            "--user", help="E-mail of the member recorded as creator (default: an owner)."
        )
        parser.add_argument("--json", action="store_true", help="Print the reports as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(pk=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace {options['workspace']}.")
        user = self._user(workspace, options.get("user"))
        documents: list[Any] = []
        for path in options["files"]:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"{path}: {error}") from None
            documents += loaded if isinstance(loaded, list) else [loaded]
        try:
            imported = workflows_import_n8n(user=user, workspace=workspace, documents=documents)
        except LinkflowError as error:
            raise CommandError(f"{error.message} {json.dumps(error.details)}") from None
        if options["json"]:
            self.stdout.write(json.dumps([i.report for i in imported], indent=2))
            return
        for item in imported:
            summary = item.report["summary"]
            self.stdout.write(
                f"{item.workflow.pk}  {item.workflow.name}: {summary['nodes']} nodes, "
                f"{summary['mapped']} mapped, {summary['mapped_with_warnings']} with warnings, "
                f"{summary['not_mapped']} not mapped; {summary['translated']}/"
                f"{summary['expressions']} expressions translated"
            )
            for node in item.report["nodes"]:
                if node["status"] != "mapped":
                    detail = node["reason"] or "; ".join(node["warnings"])
                    self.stdout.write(f"    {node['name']} [{node['status']}]: {detail}")

    def _user(self, workspace: Workspace, email: str | None) -> User:
        members = Membership.objects.filter(workspace=workspace, role__in=WRITER_ROLES)
        if email:
            membership = members.filter(user__email__iexact=email).select_related("user").first()
            if membership is None:
                raise CommandError(f"{email} may not write in this workspace.")
            return membership.user
        membership = members.select_related("user").order_by("created_at").first()
        if membership is None:
            raise CommandError("The workspace has no member who may write in it.")
        return membership.user
