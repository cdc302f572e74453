"""Credential forms, generated from the type's field schema (credentials/types.py).

Secret fields are write-only: their inputs are never filled in, and on edit a blank
secret keeps the stored value. The service checks the values (types.fields_check); the
form only turns inputs into the ``data`` the service takes.
"""

from typing import Any

from django import forms

from .models import CredentialType
from .types import SCHEMAS, Field

# Schema field names become form fields under this prefix: a type may have a field called
# "name", which is also the credential's own name.
PREFIX = "field_"

_HELP = {
    "scopes": "Space-separated scope names.",
    "authorize_url": "The provider's authorization endpoint.",
    "token_url": "The provider's token endpoint.",
    "header_name": "Default: X-Webhook-Token.",
    "security": "How to secure the connection to the server.",
}


def field_label(name: str) -> str:
    special = {"url": "URL", "id": "ID", "smtp": "SMTP"}
    words = [special.get(word, word) for word in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


class CredentialForm(forms.Form):
    name = forms.CharField(max_length=200)

    def __init__(
        self,
        *args: Any,
        type: str,
        stored: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``stored``: the credential's current fields when editing (secrets never shown)."""
        super().__init__(*args, **kwargs)
        self.type = type
        self.schema = SCHEMAS[type]
        self.editing = stored is not None
        stored = stored or {}
        self.stored_secrets = {f.name for f in self.schema.fields if f.secret and f.name in stored}
        for spec in self.schema.fields:
            self.fields[PREFIX + spec.name] = self._field(spec)
            if not spec.secret and spec.name in stored:
                value = stored[spec.name]
                self.initial[PREFIX + spec.name] = (
                    " ".join(value) if isinstance(value, list) else value
                )

    @property
    def type_label(self) -> str:
        return str(CredentialType(self.type).label)

    def _field(self, spec: Field) -> forms.Field:
        help_text = _HELP.get(spec.name, "")
        if spec.secret:
            if self.editing and spec.name in self.stored_secrets:
                help_text = "Stored and hidden. Leave blank to keep it; type to replace it."
            else:
                help_text = "Write-only: it is never shown again after saving."
        if self.schema.one_of and spec.name in self.schema.one_of:
            help_text = f"{help_text} Give one of: {', '.join(self.schema.one_of)}.".strip()
        # Requiredness is the service's rule (and a stored secret may stay blank).
        common: dict[str, Any] = {
            "label": field_label(spec.name),
            "required": False,
            "help_text": help_text,
        }
        if spec.kind == "choice":
            choices = [("", "—"), *((c, c) for c in spec.choices)]
            return forms.ChoiceField(choices=choices, **common)
        if spec.secret:
            attrs = {"autocomplete": "new-password"}
            return forms.CharField(
                widget=forms.PasswordInput(render_value=False, attrs=attrs), strip=False, **common
            )
        widget: forms.Widget = forms.TextInput()
        if spec.kind == "url":
            widget = forms.URLInput()
        elif spec.kind == "port":
            widget = forms.TextInput(attrs={"inputmode": "numeric"})
        return forms.CharField(widget=widget, **common)

    def field_rows(self) -> list[tuple[forms.BoundField, Field]]:
        """Each schema field's bound field with its spec (the template marks the
        required and secret ones)."""
        return [(self[PREFIX + spec.name], spec) for spec in self.schema.fields]

    def data_for_service(self) -> dict[str, Any]:
        """The ``data`` for credential_create / credential_update (merged on update).

        On create, blank values are left out (the service names the missing required
        ones). On edit, a blank secret is left out, so the stored one stays; a blank
        plain field is sent as null, which removes it.
        """
        data: dict[str, Any] = {}
        for spec in self.schema.fields:
            value = self.cleaned_data.get(PREFIX + spec.name)
            if value in (None, ""):
                if spec.secret and spec.allow_blank and not self.editing:
                    data[spec.name] = ""
                elif self.editing and not spec.secret:
                    data[spec.name] = None
                continue
            data[spec.name] = value
        return data

    def service_errors(self, details: Any) -> bool:
        """Put the service's ``{"data": {field: [problems]}, "name": [...]}`` details next
        to their fields; False when none named a field of this form."""
        placed = False
        if not isinstance(details, dict):
            return placed
        data = details.get("data")
        named = [(PREFIX + k, v) for k, v in data.items()] if isinstance(data, dict) else []
        named += [(key, problems) for key, problems in details.items() if key != "data"]
        for target, problems in named:
            if target not in self.fields:
                continue
            for problem in problems if isinstance(problems, list) else [problems]:
                self.add_error(target, str(problem))
            placed = True
        return placed
