"""Forms of the sign-in pages, the account page and two-factor set-up. Validation of input only:
the rules (who may change what, what a code proves) live in services and twofactor.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from guanxi.identity import services
from guanxi.identity.account import time_zone_names
from guanxi.identity.models import NotificationEmail, User


def _input(**attrs: Any) -> dict[str, Any]:
    return {"class": "form-control", **attrs}


class LoginForm(forms.Form):
    """Email and password. The field is called ``username`` like Django's own form (password managers
    and the browser journeys expect it)."""

    username = forms.CharField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs=_input(autocomplete="username", autofocus=True, autocapitalize="none")),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs=_input(autocomplete="current-password")),
    )


class OTPTokenForm(forms.Form):
    """A 6-digit authenticator code, or a recovery code."""

    otp_token = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs=_input(
                autocomplete="one-time-code",
                autofocus=True,
                autocapitalize="none",
                spellcheck="false",
                placeholder="123456",
            )
        ),
    )


class TwoFactorDisableForm(forms.Form):
    """Proof for turning two-factor off: a current code or the password."""

    otp_token = forms.CharField(
        label=_("Code from your app or a recovery code"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs=_input(autocomplete="one-time-code", autocapitalize="none", spellcheck="false")),
    )
    password = forms.CharField(
        label=_("or your password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs=_input(autocomplete="current-password")),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("otp_token") and not cleaned.get("password"):
            raise forms.ValidationError(_("Enter a code from your app or your password."))
        return cleaned


class AccountForm(forms.Form):
    """The account page: what a user may change about themselves (see account.ACCOUNT_FIELDS)."""

    display_name = forms.CharField(
        label=_("Display name"), max_length=100, widget=forms.TextInput(attrs=_input(autocomplete="name"))
    )
    phone = forms.CharField(
        label=_("Phone"), max_length=32, required=False, widget=forms.TextInput(attrs=_input(autocomplete="tel"))
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), widget=forms.Select(attrs={"class": "form-select"}))
    language = forms.ChoiceField(label=_("Language"), widget=forms.Select(attrs={"class": "form-select"}))
    notification_email = forms.ChoiceField(
        label=_("Notifications by email"),
        choices=NotificationEmail.choices,
        required=False,  # a form without it (an older page) keeps the setting as it is
        help_text=_("What the bell shows (changes of the records you follow, records given to you), also by email."),
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        zones = time_zone_names()
        current = (self.initial or {}).get("time_zone")
        if current and current not in zones:
            zones = [current, *zones]  # a legacy alias set elsewhere stays selectable
        time_zone = self.fields["time_zone"]
        language = self.fields["language"]
        assert isinstance(time_zone, forms.ChoiceField) and isinstance(language, forms.ChoiceField)
        time_zone.choices = [(name, name) for name in zones]
        language.choices = list(settings.LANGUAGES)


class GuanxiPasswordResetForm(PasswordResetForm):
    """Django's reset form, adjusted to Guanxi's users."""

    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs=_input(autocomplete="email", autofocus=True))
    )

    def get_users(self, email: str) -> Iterator[Any]:
        # Users added without a password (user_create) set their first one through this email,
        # so unlike Django's default an unusable password does not exclude anyone.
        yield from User.objects.filter(email__iexact=email.strip(), is_active=True)

    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        # In the recipient's language, not the language of whoever asked for the email.
        context = args[2] if len(args) > 2 else kwargs["context"]
        with translation.override(getattr(context.get("user"), "language", None) or settings.LANGUAGE_CODE):
            super().send_mail(*args, **kwargs)


def _styled(form: forms.Form) -> None:
    for field in form.fields.values():
        field.widget.attrs.setdefault("class", "form-control")


class GuanxiSetPasswordForm(SetPasswordForm):
    """New password after a reset email; saved through the service so it is audited."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _styled(self)

    def save(self, commit: bool = True) -> Any:
        services.user_set_password(target=self.user, user=self.user, password=self.cleaned_data["new_password1"])
        return self.user


class GuanxiPasswordChangeForm(PasswordChangeForm):
    """Change your password (old one required); saved through the service so it is audited."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _styled(self)

    def save(self, commit: bool = True) -> Any:
        services.user_set_password(target=self.user, user=self.user, password=self.cleaned_data["new_password1"])
        return self.user
