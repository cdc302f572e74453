"""Account pages: sign in (throttled), sign up, password change and reset.

Passwords are Django's own views with LinkFlow's templates (templates/registration/);
members, workspaces and API keys live in ``workspace_views`` and ``api_key_views``.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.db import IntegrityError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods

from .forms import PasswordResetRequestForm, SignInForm, SignUpForm
from .login_throttle import reset_mail_allowed
from .services import user_create


class SignInView(auth_views.LoginView):
    """The sign-in page; a locked-out address and e-mail get the form back with 429."""

    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        wait = getattr(form, "retry_after", None)
        if wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account with its personal workspace, sign the new user in and show them
    their workflows."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                name=form.cleaned_data["name"],
            )
        except IntegrityError:  # taken between the form's check and the insert
            form.add_error("email", "An account with this e-mail exists already.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to LinkFlow! Start by creating a workflow.")
            return redirect("workflows:list")
    status = 400 if form.is_bound else 200
    return render(request, "registration/signup.html", {"form": form}, status=status)


def _form_status(view: Any) -> Any:
    """Answer a rejected form with 400 rather than 200, as the rest of the UI does."""

    class WithStatus(view):  # type: ignore[misc]  # a class made from a parameter
        def form_invalid(self, form: Form) -> HttpResponse:
            response: HttpResponse = super().form_invalid(form)
            response.status_code = 400
            return response

    WithStatus.__name__ = view.__name__
    return WithStatus


password_change = _form_status(auth_views.PasswordChangeView).as_view(
    success_url=reverse_lazy("accounts:password_change_done"),
)
password_change_done = auth_views.PasswordChangeDoneView.as_view()


class PasswordResetView(auth_views.PasswordResetView):
    """Mails a reset link, at most a few an hour to one address (``reset_mail_allowed``);
    past that the page says the same and sends nothing."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        if reset_mail_allowed(email=form.cleaned_data["email"]):
            return super().form_valid(form)
        return HttpResponseRedirect(self.get_success_url())


password_reset = _form_status(PasswordResetView).as_view(
    form_class=PasswordResetRequestForm,
    email_template_name="registration/password_reset_email.txt",
    subject_template_name="registration/password_reset_subject.txt",
    success_url=reverse_lazy("accounts:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view()
password_reset_confirm = _form_status(auth_views.PasswordResetConfirmView).as_view(
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view()
