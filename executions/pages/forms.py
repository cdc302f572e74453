"""The execution list's filters: the API's query parameters, as a GET form."""

from django import forms

from executions.models import ExecutionMode, ExecutionStatus
from executions.selectors import ExecutionFilters
from workflows.models import Workflow

# The names the API uses, so a filtered page URL and an API call read alike.
FILTER_FIELDS = ("workflow", "status", "mode", "started_after", "started_before")


class _LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class ExecutionFilterForm(forms.Form):
    workflow = forms.ModelChoiceField(
        queryset=Workflow.objects.none(), required=False, empty_label="All workflows"
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *ExecutionStatus.choices], required=False
    )
    mode = forms.ChoiceField(choices=[("", "Any mode"), *ExecutionMode.choices], required=False)
    started_after = forms.DateTimeField(
        label="From", required=False, widget=_LocalDateTimeInput(), help_text="UTC"
    )
    started_before = forms.DateTimeField(
        label="To", required=False, widget=_LocalDateTimeInput(), help_text="UTC"
    )

    def __init__(self, *args: object, workflows: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["workflow"].queryset = workflows  # type: ignore[attr-defined]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        after, before = data.get("started_after"), data.get("started_before")
        if after and before and after >= before:
            self.add_error("started_before", "Must be later than From.")
        return data

    def selector_filters(self) -> ExecutionFilters:
        """The valid filters as ``execution_list`` keywords (a bad one is left out and its
        error shown next to its field)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        workflow = data.get("workflow")
        return {
            "workflow_id": workflow.pk if workflow else None,
            "status": data.get("status") or None,
            "mode": data.get("mode") or None,
            "started_after": data.get("started_after"),
            "started_before": data.get("started_before"),
        }
