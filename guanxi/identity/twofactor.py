"""Two-factor sign-in: TOTP devices, recovery codes, the pending-login handshake, and enforcement.

- Services (``totp_enrolment_start``, ``totp_enrolment_confirm``, ``recovery_codes_generate``,
  ``two_factor_disable``, ``two_factor_reset``) change a user's devices in one transaction, bump the
  user's version and write a change-log entry on the user (``{"two_factor": ["off", "on"]}``).
- The pending login: after a correct password, a user with two-factor is not signed in yet; the
  session holds their id, signed and valid for five minutes, until the code is given.
- ``TwoFactorMiddleware``: a session of an enrolled user that was not verified by a code (e.g. a
  sign-in through the Django admin's own form) is sent back to the code prompt; with
  ``GUANXI_REQUIRE_2FA`` a user without a device is sent to enrolment before anything else.
"""

from __future__ import annotations

import logging
import math
import re
from base64 import b32encode
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from guanxi.core.audit import changelog_record
from guanxi.core.choices import Action, ChangeAction, Scope
from guanxi.core.errors import FieldErrors, PermissionDenied
from guanxi.core.permissions import scope_for
from guanxi.core.qr import qr_svg
from guanxi.identity.models import User

security_log = logging.getLogger("guanxi.security")

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator"
RECOVERY_DEVICE_NAME = "Recovery codes"


# --- reading ----------------------------------------------------------------------------------


def has_two_factor(user: Any) -> bool:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def recovery_codes_remaining(user: Any) -> int:
    return StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count()


def totp_secret(device: TOTPDevice) -> str:
    """The key in base32, as authenticator apps take it for manual entry."""
    return b32encode(device.bin_key).decode("ascii").rstrip("=")


def totp_qr_svg(device: TOTPDevice, size: int = 200) -> str:
    """The otpauth:// URL as an inline SVG QR code, for the authenticator app to scan."""
    return qr_svg(device.config_url, size=size, title_id="totp-qr-title")


def normalize_code(token: str) -> str:
    """Codes are typed with spaces or dashes (“123 456”, “abcd-efgh”); recovery codes are lower case."""
    return re.sub(r"[\s-]", "", token or "").lower()


def _is_totp_code(token: str) -> bool:
    return token.isdigit() and len(token) in (6, 8)


def _devices_for(user: Any, token: str, *, for_update: bool = False) -> list[Device]:
    model: Any = TOTPDevice if _is_totp_code(token) else StaticDevice
    queryset = model.objects.devices_for_user(user, confirmed=True)
    return list(queryset.select_for_update() if for_update else queryset)


def verify_code(*, user: Any, token: str) -> Device | None:
    """The device that accepts this code: a 6-digit code is checked against the authenticator, anything
    else against the recovery codes (which are used up). Each device also slows down guessing itself
    (django_otp doubles a delay after every wrong code), on top of the sign-in throttle."""
    token = normalize_code(token)
    if not token or len(token) > 16:
        return None
    with transaction.atomic():
        for device in _devices_for(user, token, for_update=True):
            if device.verify_token(token):
                return device
    return None


def device_wait_seconds(device: Device) -> int:
    """Seconds until ``device`` checks codes again after recent wrong ones (0: it checks now)."""
    allowed, data = device.verify_is_allowed()
    locked_until = (data or {}).get("locked_until")
    if allowed or locked_until is None:
        return 0
    return max(1, math.ceil((locked_until - timezone.now()).total_seconds()))


def code_wait_seconds(*, user: Any, token: str) -> int:
    """Seconds to wait before this kind of code (authenticator or recovery) is checked again."""
    devices = _devices_for(user, normalize_code(token))
    return max((device_wait_seconds(device) for device in devices), default=0)


def wait_message(seconds: int) -> str:
    return ngettext(
        "Several wrong codes in a row: wait %(seconds)d second, then enter the newest code.",
        "Several wrong codes in a row: wait %(seconds)d seconds, then enter the newest code.",
        seconds,
    ) % {"seconds": seconds}


# --- writing ----------------------------------------------------------------------------------


def _record(*, actor: Any, target: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Bump the user's version and write the change log; called inside the service's transaction."""
    locked = User.objects.select_for_update().get(pk=target.pk)
    locked.version += 1
    locked.save(update_fields=["version", "updated_at"])
    target.version = locked.version
    changelog_record(actor=actor, obj=locked, action=ChangeAction.UPDATE, before=before, after=after)


@transaction.atomic
def totp_enrolment_start(*, user: Any) -> TOTPDevice:
    """An unconfirmed authenticator to show as a QR code; reloading the page keeps the same secret."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user_id=user.pk, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def _new_recovery_codes(user: Any, count: int) -> list[str]:
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user_id=user.pk, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes: list[str] = []
    while len(codes) < count:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def totp_enrolment_confirm(*, user: Any, device: TOTPDevice, token: str) -> list[str]:
    """Turn two-factor on once the user proves their app shows the right code.

    Returns the recovery codes (shown once). Raises FieldErrors(otp_token) for a wrong code."""
    # Verified outside the write transaction so the device's own failure counter survives a wrong code.
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device.pk, user_id=user.pk, confirmed=False).first()
        wait = device_wait_seconds(device) if device is not None else 0
        accepted = device is not None and not wait and device.verify_token(normalize_code(token))
    if device is None:
        raise FieldErrors({"otp_token": [_("This set-up has expired. Reload the page and scan the new code.")]})
    if wait:
        raise FieldErrors({"otp_token": [wait_message(wait)]})
    if not accepted:
        raise FieldErrors({"otp_token": [_("That code is not right. Enter the 6-digit code your app shows now.")]})
    with transaction.atomic():
        was_on = has_two_factor(user)
        TOTPDevice.objects.filter(user_id=user.pk).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user, RECOVERY_CODE_COUNT)
        _record(
            actor=user,
            target=user,
            before={"two_factor": "on" if was_on else "off"},
            after={"two_factor": "on", "recovery_codes": "new"},
        )
    security_log.info("two-factor enabled: user=%s", user.pk)
    return codes


@transaction.atomic
def recovery_codes_generate(*, user: Any, count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Replace the user's recovery codes with new ones (shown once). Two-factor must be on."""
    if not has_two_factor(user):
        raise FieldErrors({"two_factor": [_("Turn on two-factor sign-in first.")]})
    codes = _new_recovery_codes(user, count)
    _record(actor=user, target=user, before={"recovery_codes": "old"}, after={"recovery_codes": "new"})
    security_log.info("recovery codes regenerated: user=%s", user.pk)
    return codes


def _remove_devices(target: Any) -> bool:
    was_on = has_two_factor(target)
    TOTPDevice.objects.filter(user_id=target.pk).delete()
    StaticDevice.objects.filter(user_id=target.pk).delete()
    return was_on


def two_factor_disable(*, user: Any, token: str = "", password: str = "") -> None:
    """Turn off your own two-factor sign-in; needs a current code (or recovery code) or your password,
    so a session left open on a shared computer cannot do it."""
    if not token and not password:
        raise FieldErrors({"otp_token": [_("Enter a code from your app or your password.")]})
    # Checked outside the write transaction so a device's failure counter is not rolled back.
    proven = (bool(token) and verify_code(user=user, token=token) is not None) or (
        bool(password) and user.check_password(password)
    )
    if not proven:
        field = "otp_token" if token else "password"
        raise FieldErrors({field: [_("That is not right. Enter a current code from your app or your password.")]})
    with transaction.atomic():
        if _remove_devices(user):
            _record(actor=user, target=user, before={"two_factor": "on"}, after={"two_factor": "off"})
            security_log.info("two-factor disabled: user=%s", user.pk)


@transaction.atomic
def two_factor_reset(*, target: User, user: Any) -> None:
    """An administrator (may change all users) removes someone's lost authenticator and recovery codes."""
    if target.pk == user.pk:
        raise FieldErrors({"two_factor": [_("Turn off your own two-factor sign-in on your account page.")]})
    if scope_for(user, "identity.user", Action.CHANGE) != Scope.ALL:
        raise PermissionDenied()
    if _remove_devices(target):
        _record(actor=user, target=target, before={"two_factor": "on"}, after={"two_factor": "off"})
        security_log.info("two-factor reset: user=%s by=%s", target.pk, user.pk)


# --- the pending login ------------------------------------------------------------------------

PENDING_SESSION_KEY = "guanxi_2fa_pending"
PENDING_SALT = "guanxi.identity.2fa-pending"
PENDING_MAX_AGE = 300  # seconds to type the code


def safe_next(request: HttpRequest, url: str | None) -> str:
    """``url`` if it points back into this site, else empty (no open redirects)."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


def pending_start(request: HttpRequest, user: Any, next_url: str = "") -> None:
    """Remember that ``user`` gave the right password and now owes a code. A new session key, so a
    key planted before the password step is worthless."""
    request.session.cycle_key()
    request.session[PENDING_SESSION_KEY] = signing.dumps(
        {"uid": user.pk, "hash": user.get_session_auth_hash(), "next": next_url}, salt=PENDING_SALT
    )


def pending_user(request: HttpRequest) -> tuple[User | None, str, bool]:
    """(user, next, expired): the user waiting for their code, if the handshake is still valid."""
    value = request.session.get(PENDING_SESSION_KEY)
    if not value:
        return None, "", False
    try:
        data = signing.loads(value, salt=PENDING_SALT, max_age=PENDING_MAX_AGE)
    except signing.SignatureExpired:
        pending_clear(request)
        return None, "", True
    except signing.BadSignature:
        pending_clear(request)
        return None, "", False
    user = User.objects.filter(pk=data.get("uid"), is_active=True).first()
    if user is None or user.get_session_auth_hash() != data.get("hash"):
        # Deactivated, or the password changed in between: start over.
        pending_clear(request)
        return None, "", False
    return user, data.get("next") or "", False


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_SESSION_KEY, None)


# --- enforcement ------------------------------------------------------------------------------

# Set in the session at sign-in (any sign-in: this site's form, the Django admin's, a test client's):
UNVERIFIED_SESSION_KEY = "guanxi_2fa_unverified"  # has an authenticator but gave no code
ENROL_SESSION_KEY = "guanxi_2fa_enrol"  # has no authenticator (matters with GUANXI_REQUIRE_2FA)


def _on_user_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Note in the session what two-factor still owes, once per sign-in, so the middleware decides
    from the session alone and costs no query per request. The views that verify a code set
    ``user.otp_device`` before calling login() (django_otp's own convention)."""
    session = getattr(request, "session", None)
    if session is None:
        return
    session.pop(UNVERIFIED_SESSION_KEY, None)
    session.pop(ENROL_SESSION_KEY, None)
    if getattr(user, "otp_device", None) is not None:
        return
    if has_two_factor(user):
        session[UNVERIFIED_SESSION_KEY] = True
    else:
        session[ENROL_SESSION_KEY] = True


# Connected when this module is imported: by the middleware at start-up and by IdentityConfig.ready().
user_logged_in.connect(_on_user_logged_in, dispatch_uid="guanxi.identity.twofactor.on_login")


def session_verified(request: HttpRequest) -> None:
    """The session was just verified by a code (or the user enrolled): nothing is owed any more."""
    request.session.pop(UNVERIFIED_SESSION_KEY, None)
    request.session.pop(ENROL_SESSION_KEY, None)


def session_needs_enrolment(request: HttpRequest) -> None:
    """Two-factor was turned off in this session: with GUANXI_REQUIRE_2FA, set it up again first."""
    request.session[ENROL_SESSION_KEY] = True


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "type": "about:blank",
                "title": _("Two-factor sign-in required"),
                "status": 403,
                "detail": _("Finish two-factor sign-in in the browser first."),
            },
            status=403,
            content_type="application/problem+json",
        )
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class TwoFactorMiddleware:
    """Install right after django_otp's OTPMiddleware.

    - A session of a user with an authenticator that was not verified by a code (signed in through
      another form, e.g. the Django admin's) is signed out and sent to the code prompt.
    - With ``GUANXI_REQUIRE_2FA``, a user without an authenticator reaches nothing but the enrolment
      page (and sign-out) until they set one up.
    """

    ALWAYS_ALLOWED = ("logout", "login", "login-2fa", "set_language")
    ENROLMENT_ALLOWED = ("two-factor-setup",)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._guard(request) or self.get_response(request)

    @staticmethod
    def _path_in(request: HttpRequest, names: tuple[str, ...]) -> bool:
        for name in names:
            try:
                if request.path == reverse(name):
                    return True
            except NoReverseMatch:  # a URL another part of the site does not provide
                continue
        return False

    def _guard(self, request: HttpRequest) -> HttpResponse | None:
        session = getattr(request, "session", None)
        if session is None:
            return None
        unverified = bool(session.get(UNVERIFIED_SESSION_KEY))
        enrol = bool(session.get(ENROL_SESSION_KEY)) and getattr(settings, "GUANXI_REQUIRE_2FA", False)
        if not unverified and not enrol:
            return None  # the common case: decided without touching the user or the database
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.path.startswith((settings.STATIC_URL, settings.MEDIA_URL)):
            return None
        is_verified = getattr(user, "is_verified", None)
        if is_verified is not None and is_verified():
            session_verified(request)
            return None
        if self._path_in(request, self.ALWAYS_ALLOWED):
            return None
        if unverified:
            next_url = safe_next(request, request.get_full_path()) if request.method == "GET" else ""
            security_log.warning("session without two-factor code sent to the code prompt: user=%s", user.pk)
            logout(request)
            pending_start(request, user, next_url)
            return _redirect(request, reverse("login-2fa"))
        if self._path_in(request, self.ENROLMENT_ALLOWED):
            return None
        url = reverse("two-factor-setup")
        if request.method == "GET" and not request.path.startswith("/api/"):
            url += "?" + urlencode({"next": request.get_full_path()})
        return _redirect(request, url)
