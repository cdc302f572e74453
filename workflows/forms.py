"""Forms of the workflow pages: they check the shape of the input; services check the rules."""

from typing import Any

from django import forms

from linkflow.core.errors import LinkflowError
from linkflow.core.json_body import json_loads

# An exported workflow is a few kilobytes; this bounds what a paste or upload may cost.
IMPORT_MAX_BYTES = 2 * 1024 * 1024


class WorkflowSearchForm(forms.Form):
    q = forms.CharField(label="Search by name", required=False, max_length=200)


class WorkflowCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class WorkflowImportForm(forms.Form):
    """An exported workflow, uploaded as a file or pasted; ``document`` is the parsed JSON."""

    file = forms.FileField(label="JSON file", required=False)
    text = forms.CharField(
        label="Or paste the JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        upload, text = data.get("file"), (data.get("text") or "").strip()
        if upload is None and not text:
            raise forms.ValidationError("Choose an exported JSON file or paste its content.")
        if upload is not None:
            field = "file"
            if upload.size > IMPORT_MAX_BYTES:
                self.add_error(field, f"The file is larger than {IMPORT_MAX_BYTES} bytes.")
                return data
            raw = upload.read()
        else:
            field, raw = "text", text.encode()
        data["source_field"] = field
        try:
            data["document"] = json_loads(raw)
        except LinkflowError as error:  # bad JSON, or nested too deep
            self.add_error(field, error.message.replace("The body is", "This is"))
        return data
