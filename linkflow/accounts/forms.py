"""Forms of the account pages. They check the shape of the input; the services (and
Django's auth machinery, for passwords) enforce the rules."""

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError

from .login_throttle import client_address, login_failed, login_retry_after, login_succeeded
from .models import Role, User
from .scoping import SCOPES


class SignInForm(AuthenticationForm):
    """Django's sign-in form, limited like the API's token view: after too many wrong
    passwords from one address for one e-mail, further tries are refused unchecked."""

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        address = client_address(self.request) if self.request else "unknown"
        email = str(self.data.get("username", ""))
        self.retry_after = login_retry_after(address=address, email=email)
        if self.retry_after is not None:
            raise ValidationError(
                "Too many failed sign-ins. Try again in %(minutes)s minute(s).",
                code="throttled",
                params={"minutes": max(1, round(self.retry_after / 60))},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            login_failed(address=address, email=email)
            raise
        # Only a checked password clears the count: a post without one proves nothing.
        if self.user_cache is not None:
            login_succeeded(address=address, email=email)
        return cleaned


class SignUpForm(forms.Form):
    email = forms.EmailField(
        max_length=254, label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True})
    )
    name = forms.CharField(max_length=150, required=False, label="Your name")
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this e-mail exists already.", code="taken")
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            # The validators compare the password with the e-mail and name, as on a real user.
            candidate = User(email=cleaned.get("email", ""), name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(first, user=candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class PasswordResetRequestForm(PasswordResetForm):
    email = forms.EmailField(
        label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class WorkspaceNameForm(forms.Form):
    name = forms.CharField(max_length=150, label="Name")


class MemberAddForm(forms.Form):
    email = forms.EmailField(max_length=254, label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=150, help_text="What uses this key, e.g. “CI deploys”.")
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope} — {text}") for scope, text in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires (optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In UTC. Leave empty for a key that lasts until revoked.",
    )
