"""Sign-in (password, then the two-factor code), sign-out, password reset and change, the account page
and two-factor set-up. Thin views: throttling in throttle.py, devices in twofactor.py, the profile
write in account.py, passwords through services.user_set_password."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as django_auth_views
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice

from guanxi.core.errors import FieldErrors
from guanxi.identity import throttle, twofactor
from guanxi.identity.account import account_update
from guanxi.identity.auth_forms import (
    AccountForm,
    GuanxiPasswordChangeForm,
    GuanxiPasswordResetForm,
    GuanxiSetPasswordForm,
    LoginForm,
    OTPTokenForm,
    TwoFactorDisableForm,
)
from guanxi.identity.models import User

security_log = logging.getLogger("guanxi.security")

BACKEND = "guanxi.identity.backends.EmailBackend"
# Set at sign-in, removed at sign-out: if it is still there when the login page is shown, the
# session ran out on its own, and the page can say so.
SIGNED_IN_COOKIE = "guanxi_signed_in"
SIGNED_IN_COOKIE_AGE = 30 * 24 * 3600


def _add_errors(form: Form, exc: FieldErrors) -> None:
    for name, messages_ in exc.errors.items():
        for message in messages_:
            form.add_error(name if name in form.fields else None, message)


def _next(request: HttpRequest) -> str:
    return twofactor.safe_next(request, request.POST.get("next") or request.GET.get("next"))


def _complete_login(request: HttpRequest, user: User, device: Device | None, next_url: str) -> HttpResponse:
    """Sign the user in for real: new session key (login() rotates it), the device that verified them
    remembered in the session, the email's failure counter cleared."""
    twofactor.pending_clear(request)
    if device is not None:
        user.otp_device = device  # type: ignore[attr-defined]  # tells the login signal the code was given
    login(request, user, backend=BACKEND)
    if device is not None:
        django_otp.login(request, device)
    throttle.clear(email=user.email)
    security_log.info(
        "signed in: user=%s ip=%s two_factor=%s",
        user.pk,
        throttle.client_ip(request),
        device.__class__.__name__ if device else "none",
    )
    response = redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    response.set_cookie(
        SIGNED_IN_COOKIE,
        "1",
        max_age=SIGNED_IN_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Email and password; users with two-factor continue at ``login-2fa``."""
    next_url = _next(request)
    if request.method == "GET" and request.headers.get("HX-Request") == "true":
        # A session ran out during an htmx call: send the whole page here, not a fragment of it.
        current = twofactor.safe_next(request, request.headers.get("HX-Current-URL", ""))
        page = urlsplit(current)._replace(scheme="", netloc="").geturl() if current else next_url
        response = HttpResponse(status=200)
        response["HX-Redirect"] = reverse("login") + ("?" + urlencode({"next": page}) if page else "")
        return response
    if request.user.is_authenticated:
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))

    form = LoginForm(request.POST or None)
    status = 200
    lockout = ""
    if request.method == "POST" and form.is_valid():
        email = throttle.normalize_email(form.cleaned_data["username"])
        ip = throttle.client_ip(request)
        lock = throttle.check(email=email, ip=ip)
        if lock is None:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if user is not None and twofactor.has_two_factor(user):
                twofactor.pending_start(request, user, next_url)
                return redirect("login-2fa")
            if user is not None:
                return _complete_login(request, user, None, next_url)
            lock = throttle.record_failure(email=email, ip=ip, reason="password")
            if lock is None:
                # The same words whether or not the email exists.
                form.add_error(None, _("The email or the password is not right. Check both and try again."))
        if lock is not None:
            lockout = lock.message()
            status = 429

    expired = request.method == "GET" and bool(request.COOKIES.get(SIGNED_IN_COOKIE))
    response = render(
        request,
        "identity/login.html",
        {"form": form, "next": next_url, "session_expired": expired, "lockout": lockout},
        status=status,
    )
    if expired:
        response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")  # say it once
    return response


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_2fa_view(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a recovery code."""
    user, next_url, expired = twofactor.pending_user(request)
    if user is None:
        if expired:
            messages.warning(request, _("Signing in took too long. Enter your email and password again."))
        return redirect(reverse("login") + ("?" + urlencode({"next": next_url}) if next_url else ""))

    form = OTPTokenForm(request.POST or None)
    status = 200
    lockout = ""
    if request.method == "POST" and form.is_valid():
        ip = throttle.client_ip(request)
        lock = throttle.check(email=user.email, ip=ip)
        wait = twofactor.code_wait_seconds(user=user, token=form.cleaned_data["otp_token"]) if lock is None else 0
        if wait:
            # The device itself slows down guessing after a wrong code; this attempt was not checked.
            form.add_error("otp_token", twofactor.wait_message(wait))
        elif lock is None:
            device = twofactor.verify_code(user=user, token=form.cleaned_data["otp_token"])
            if device is not None:
                response = _complete_login(request, user, device, twofactor.safe_next(request, next_url))
                if isinstance(device, StaticDevice):
                    left = twofactor.recovery_codes_remaining(user)
                    messages.warning(
                        request,
                        ngettext(
                            "You signed in with a recovery code; %(count)d is left. "
                            "Create new ones on your account page.",
                            "You signed in with a recovery code; %(count)d are left. "
                            "Create new ones on your account page.",
                            left,
                        )
                        % {"count": left},
                    )
                return response
            lock = throttle.record_failure(email=user.email, ip=ip, reason="two-factor code")
            if lock is None:
                form.add_error(
                    "otp_token",
                    _("That code is not right. Check the time on your phone and enter the newest code."),
                )
        if lock is not None:
            lockout = lock.message()
            status = 429
    return render(request, "identity/login_2fa.html", {"form": form, "lockout": lockout}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out (POST only, so a link or an image on another site cannot sign anyone out)."""
    if request.user.is_authenticated:
        security_log.info("signed out: user=%s", request.user.pk)
    logout(request)
    messages.info(request, _("You have signed out."))
    response = redirect(settings.LOGOUT_REDIRECT_URL)
    response.delete_cookie(SIGNED_IN_COOKIE, samesite="Lax")
    return response


# --- password reset and change ----------------------------------------------------------------


class PasswordResetView(django_auth_views.PasswordResetView):
    """Ask for a reset email. The answer is the same whether or not the address belongs to anyone."""

    form_class = GuanxiPasswordResetForm
    template_name = "identity/password_reset_form.html"
    email_template_name = "identity/email/password_reset_email.txt"
    subject_template_name = "identity/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")
    extra_email_context = {"valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)}

    def form_valid(self, form: Any) -> HttpResponse:
        email = form.cleaned_data["email"]
        if not throttle.allow_request(email=email, ip=throttle.client_ip(self.request), scope="reset"):
            return HttpResponseRedirect(self.get_success_url())  # quietly: the same answer as always
        security_log.info("password reset requested: email=%s ip=%s", email, throttle.client_ip(self.request))
        return super().form_valid(form)


class PasswordResetDoneView(django_auth_views.PasswordResetDoneView):
    template_name = "identity/password_reset_done.html"


class PasswordResetConfirmView(django_auth_views.PasswordResetConfirmView):
    form_class = GuanxiSetPasswordForm
    template_name = "identity/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Owning the mailbox proves enough to lift a lock on the email.
        throttle.clear(email=form.user.email)
        security_log.info("password reset done: user=%s", form.user.pk)
        return response


class PasswordResetCompleteView(django_auth_views.PasswordResetCompleteView):
    template_name = "identity/password_reset_complete.html"


class PasswordChangeView(django_auth_views.PasswordChangeView):
    """Change your password; the old one is required and wrong guesses count like failed sign-ins."""

    form_class = GuanxiPasswordChangeForm
    template_name = "identity/password_change.html"
    success_url = reverse_lazy("account")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        lock = throttle.check(email=request.user.email, ip=throttle.client_ip(request))  # type: ignore[union-attr]
        if lock is not None:
            context = self.get_context_data(form=self.form_class(user=request.user), lockout=lock.message())
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        if "old_password" in form.errors:
            throttle.record_failure(
                email=self.request.user.email,  # type: ignore[union-attr]
                ip=throttle.client_ip(self.request),
                reason="password change",
            )
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # saves through the service, keeps this session signed in
        messages.success(self.request, _("Your password has been changed."))
        return response


# --- the account page -------------------------------------------------------------------------


def _account_page(
    request: HttpRequest,
    *,
    form: AccountForm | None = None,
    disable_form: TwoFactorDisableForm | None = None,
    status: int = 200,
    lockout: str = "",
) -> HttpResponse:
    user = request.user
    if form is None:
        form = AccountForm(
            initial={
                "display_name": user.display_name,  # type: ignore[union-attr]
                "phone": user.phone,  # type: ignore[union-attr]
                "time_zone": user.time_zone or "Asia/Shanghai",  # type: ignore[union-attr]
                "language": user.language,  # type: ignore[union-attr]
                "notification_email": user.notification_email,  # type: ignore[union-attr]
            }
        )
    two_factor_on = twofactor.has_two_factor(user)
    context = {
        "form": form,
        "two_factor_on": two_factor_on,
        "recovery_codes_left": twofactor.recovery_codes_remaining(user) if two_factor_on else 0,
        "disable_form": disable_form or TwoFactorDisableForm(),
        "lockout": lockout,
    }
    return render(request, "identity/account.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def account_view(request: HttpRequest) -> HttpResponse:
    """Your profile and preferences, your password and two-factor sign-in."""
    if request.method != "POST":
        return _account_page(request)
    form = AccountForm(request.POST, initial={"time_zone": request.user.time_zone})  # type: ignore[union-attr]
    if form.is_valid():
        data = {name: value for name, value in form.cleaned_data.items() if name != "notification_email" or value}
        try:
            account_update(user=request.user, data=data)
        except FieldErrors as exc:
            _add_errors(form, exc)
        else:
            language = form.cleaned_data["language"]
            translation.activate(language)
            messages.success(request, _("Your account has been saved."))
            response = redirect("account")
            # The language cookie wins over the saved preference (UserPreferencesMiddleware): keep them in step.
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
            )
            return response
    return _account_page(request, form=form, status=400)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup_view(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code (or type the secret), then confirm with a code."""
    user = request.user
    next_url = _next(request)
    if twofactor.has_two_factor(user):
        messages.info(
            request, _("Two-factor sign-in is already on. To use a new phone, turn it off and set it up again.")
        )
        return redirect("account")
    device = twofactor.totp_enrolment_start(user=user)
    form = OTPTokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                codes = twofactor.totp_enrolment_confirm(user=user, device=device, token=form.cleaned_data["otp_token"])
            except FieldErrors as exc:
                _add_errors(form, exc)
            else:
                device.refresh_from_db()
                django_otp.login(request, device)  # this session is now verified
                twofactor.session_verified(request)
                messages.success(request, _("Two-factor sign-in is on."))
                return _recovery_codes_page(request, codes, next_url)
        status = 400
    context = {
        "form": form,
        "secret": twofactor.totp_secret(device),
        "qr_svg": twofactor.totp_qr_svg(device),
        "next": next_url,
        "required": getattr(settings, "GUANXI_REQUIRE_2FA", False),
    }
    return render(request, "identity/two_factor_setup.html", context, status=status)


def _recovery_codes_page(request: HttpRequest, codes: list[str], next_url: str = "") -> HttpResponse:
    response = render(
        request,
        "identity/recovery_codes.html",
        {"codes": codes, "codes_text": "\n".join(codes) + "\n", "next": next_url or resolve_url("account")},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def recovery_codes_view(request: HttpRequest) -> HttpResponse:
    """New recovery codes, replacing the old ones; shown once."""
    try:
        codes = twofactor.recovery_codes_generate(user=request.user)
    except FieldErrors as exc:
        messages.error(request, " ".join(m for ms in exc.errors.values() for m in ms))
        return redirect("account")
    return _recovery_codes_page(request, codes)


@sensitive_post_parameters("password")
@login_required
@require_POST
def two_factor_disable_view(request: HttpRequest) -> HttpResponse:
    """Turn two-factor off, proven by a current code or the password (wrong guesses are throttled)."""
    user = request.user
    form = TwoFactorDisableForm(request.POST)
    ip = throttle.client_ip(request)
    lock = throttle.check(email=user.email, ip=ip)  # type: ignore[union-attr]
    if lock is not None:
        return _account_page(request, disable_form=TwoFactorDisableForm(), status=429, lockout=lock.message())
    if not form.is_valid():
        return _account_page(request, disable_form=form, status=400)
    try:
        twofactor.two_factor_disable(
            user=user, token=form.cleaned_data["otp_token"], password=form.cleaned_data["password"]
        )
    except FieldErrors as exc:
        lock = throttle.record_failure(email=user.email, ip=ip, reason="two-factor disable")  # type: ignore[union-attr]
        _add_errors(form, exc)
        return _account_page(
            request, disable_form=form, status=429 if lock else 400, lockout=lock.message() if lock else ""
        )
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    twofactor.session_needs_enrolment(request)
    messages.success(request, _("Two-factor sign-in is off."))
    return redirect("account")
