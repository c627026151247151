"""Sign-in, two-factor, throttling, sign-out, password reset and change, the account page.

Everything goes through the real URLs, the real session and the real database; TOTP codes are
computed with the RFC 6238 algorithm from the device's key, as an authenticator app would.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from guanxi.core.errors import FieldErrors
from guanxi.core.models import ChangeLogEntry
from guanxi.identity import middleware, throttle, twofactor
from guanxi.identity.account import account_update
from guanxi.identity.auth_views import SIGNED_IN_COOKIE
from guanxi.identity.models import User
from tests.factories import PASSWORD, RoleFactory, UserFactory
from tests.identity.conftest import totp_code

pytestmark = pytest.mark.django_db


def sign_in(client: Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(reverse("login"), {"username": email, "password": password, **extra})


def signed_in_user_id(client: Client) -> Any:
    return client.session.get(SESSION_KEY)


def user_changes(user: Any) -> list[dict[str, Any]]:
    ct = ContentType.objects.get_for_model(User)
    return [e.changes for e in ChangeLogEntry.objects.filter(content_type=ct, object_id=user.pk).order_by("pk")]


# --- password sign-in -------------------------------------------------------------------------------


def test_login_page_has_the_fields_the_browser_journeys_use(client: Client) -> None:
    page = client.get(reverse("login")).content.decode()
    assert 'name="username"' in page and 'name="password"' in page
    assert 'type="submit"' in page
    assert reverse("password_reset") in page


def test_login_with_the_right_password_signs_in_on_a_new_session_key(client: Client, user: Any) -> None:
    client.get(reverse("login"))
    client.cookies["sessionid"] = "planted-by-attacker"
    response = sign_in(client, "  LI.Lei@Example.com ")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert str(signed_in_user_id(client)) == str(user.pk)
    assert client.cookies["sessionid"].value != "planted-by-attacker"
    assert SIGNED_IN_COOKIE in response.cookies


def test_login_with_a_wrong_password_or_unknown_email_says_the_same(
    client: Client, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_password = sign_in(client, user.email, "not-the-password")
    unknown_email = sign_in(client, "nobody@example.com", "not-the-password")
    assert wrong_password.status_code == unknown_email.status_code == 200
    assert signed_in_user_id(client) is None
    message = "The email or the password is not right."
    assert message in wrong_password.content.decode()
    assert message in unknown_email.content.decode()
    assert any(r.name == "guanxi.security" and "failed" in r.getMessage() for r in caplog.records)


def test_inactive_user_cannot_sign_in(client: Client, user: Any) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = sign_in(client, user.email)
    assert response.status_code == 200
    assert signed_in_user_id(client) is None


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/phish", "//evil.example/", "http://testserver.evil.example/", "javascript:alert(1)"],
)
def test_next_to_another_site_is_refused(client: Client, user: Any, next_url: str) -> None:
    response = sign_in(client, user.email, next=next_url)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_next_inside_the_site_is_honoured(client: Client, user: Any) -> None:
    response = sign_in(client, user.email, next="/account/?tab=2")
    assert response["Location"] == "/account/?tab=2"


def test_signed_in_user_visiting_login_goes_on(client: Client, user: Any) -> None:
    client.force_login(user)
    response = client.get(reverse("login"), {"next": "/account/"})
    assert response.status_code == 302 and response["Location"] == "/account/"


def test_logout_is_post_only(client: Client, user: Any) -> None:
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert signed_in_user_id(client) is not None
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert signed_in_user_id(client) is None


def test_an_active_session_is_renewed_every_few_minutes_not_on_every_page(
    client: Client, user: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Pages only read: renewing the session's expiry on each would make each a write (of the
    database's session table, without Redis). A session is saved, and its cookie sent again with the
    new expiry, only when it is renewed."""
    now = [1_000_000.0]
    monkeypatch.setattr(middleware.time, "time", lambda: now[0])
    client.force_login(user)

    def renewed() -> bool:
        response = client.get(reverse("account"))
        assert response.status_code == 200
        return settings.SESSION_COOKIE_NAME in response.cookies

    key = client.session.session_key
    assert not renewed()  # signing in gave the session its full expiry
    now[0] += middleware.SESSION_RENEW_SECONDS - 1
    assert not renewed()
    now[0] += 1
    assert renewed()
    assert client.session.session_key == key  # the same session, still signed in
    assert signed_in_user_id(client) == str(user.pk)


def test_login_page_says_when_the_session_expired(client: Client, user: Any) -> None:
    client.cookies[SIGNED_IN_COOKIE] = "1"  # signed in once, and the session ran out since
    page = client.get(reverse("login"), {"next": "/account/"}).content.decode()
    assert "Your session expired" in page
    assert "Your session expired" not in client.get(reverse("login")).content.decode()  # said once


def test_login_page_sends_htmx_calls_to_a_full_page(client: Client) -> None:
    response = client.get(
        reverse("login"),
        {"next": "/fragment/"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/account/"},
    )
    assert response["HX-Redirect"] == reverse("login") + "?next=%2Faccount%2F"


# --- two-factor sign-in -----------------------------------------------------------------------------


def test_login_with_two_factor_needs_the_code(client: Client, totp_user: Any) -> None:
    device = TOTPDevice.objects.get(user=totp_user)
    response = sign_in(client, totp_user.email, next="/account/")
    assert response.status_code == 302 and response["Location"] == reverse("login-2fa")
    assert signed_in_user_id(client) is None  # not signed in yet
    assert client.get(reverse("account")).status_code == 302

    page = client.get(reverse("login-2fa")).content.decode()
    assert 'name="otp_token"' in page and 'id="id_otp_token"' in page

    wrong = client.post(reverse("login-2fa"), {"otp_token": "000000" if totp_code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    assert signed_in_user_id(client) is None

    # Right after a wrong code the device itself waits a moment before it checks codes again.
    hurried = client.post(reverse("login-2fa"), {"otp_token": totp_code(device)})
    assert "wait 1 second" in hurried.content.decode() and signed_in_user_id(client) is None
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)  # the moment passed

    pending_session = client.session.session_key
    response = client.post(reverse("login-2fa"), {"otp_token": totp_code(device)})
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert str(signed_in_user_id(client)) == str(totp_user.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.session.session_key != pending_session
    assert twofactor.PENDING_SESSION_KEY not in client.session
    assert client.get(reverse("account")).status_code == 200


def test_a_totp_code_is_accepted_once(client: Client, totp_user: Any) -> None:
    device = TOTPDevice.objects.get(user=totp_user)
    code = totp_code(device)
    sign_in(client, totp_user.email)
    assert client.post(reverse("login-2fa"), {"otp_token": code}).status_code == 302
    other = Client()
    sign_in(other, totp_user.email)
    replay = other.post(reverse("login-2fa"), {"otp_token": code})
    assert replay.status_code == 200 and signed_in_user_id(other) is None


def test_the_code_prompt_without_a_password_step_goes_back_to_login(client: Client) -> None:
    response = client.get(reverse("login-2fa"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_pending_sign_in_expires(client: Client, totp_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(client, totp_user.email)
    monkeypatch.setattr(twofactor, "PENDING_MAX_AGE", -1)  # five minutes have passed
    response = client.post(reverse("login-2fa"), {"otp_token": totp_code(TOTPDevice.objects.get(user=totp_user))})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert signed_in_user_id(client) is None


def test_the_pending_user_id_cannot_be_forged(client: Client, totp_user: Any, user: Any) -> None:
    sign_in(client, totp_user.email)
    session = client.session
    # Someone who can write the session but does not know the secret key names another user.
    forged = signing.dumps(
        {"uid": user.pk, "hash": user.get_session_auth_hash(), "next": ""},
        key="not-the-server-secret",
        salt=twofactor.PENDING_SALT,
    )
    session[twofactor.PENDING_SESSION_KEY] = forged
    session.save()
    response = client.post(reverse("login-2fa"), {"otp_token": "123456"})
    assert response.status_code == 302 and signed_in_user_id(client) is None


def test_a_recovery_code_works_once(client: Client, totp_user: Any) -> None:
    codes = twofactor.recovery_codes_generate(user=totp_user)
    assert len(codes) == 10 and len(set(codes)) == 10
    sign_in(client, totp_user.email)
    response = client.post(reverse("login-2fa"), {"otp_token": codes[3].upper()[:4] + "-" + codes[3][4:]})
    assert response.status_code == 302
    assert str(signed_in_user_id(client)) == str(totp_user.pk)
    assert twofactor.recovery_codes_remaining(totp_user) == 9

    client.post(reverse("logout"))
    StaticDevice.objects.filter(user=totp_user).update(throttling_failure_count=0)
    sign_in(client, totp_user.email)
    again = client.post(reverse("login-2fa"), {"otp_token": codes[3]})
    assert again.status_code == 200 and signed_in_user_id(client) is None


def test_a_session_signed_in_elsewhere_without_the_code_must_give_it(client: Client, totp_user: Any) -> None:
    """E.g. the Django admin's own login form: password only. The next page asks for the code."""
    client.force_login(totp_user)
    response = client.get(reverse("account"))
    assert response.status_code == 302 and response["Location"] == reverse("login-2fa")
    assert signed_in_user_id(client) is None
    response = client.post(reverse("login-2fa"), {"otp_token": totp_code(TOTPDevice.objects.get(user=totp_user))})
    assert response.status_code == 302 and response["Location"] == reverse("account")
    assert client.get(reverse("account")).status_code == 200


def test_required_two_factor_sends_users_without_a_device_to_enrolment(
    client: Client, user: Any, settings: Any
) -> None:
    settings.GUANXI_REQUIRE_2FA = True
    response = sign_in(client, user.email, next="/account/")
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == reverse("two-factor-setup") + "?next=%2Faccount%2F"
    assert client.get(reverse("two-factor-setup")).status_code == 200
    htmx = client.get(reverse("account"), headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"].startswith(reverse("two-factor-setup"))
    assert client.get("/api/v1/users").status_code == 403

    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post(reverse("two-factor-setup"), {"otp_token": totp_code(device), "next": "/account/"})
    assert done.status_code == 200 and 'href="/account/"' in done.content.decode()
    assert client.get(reverse("account")).status_code == 200


def test_without_the_requirement_users_without_a_device_go_anywhere(client: Client, user: Any) -> None:
    sign_in(client, user.email)
    assert client.get(reverse("account")).status_code == 200


# --- throttling -------------------------------------------------------------------------------------


@pytest.fixture
def small_limits(settings: Any) -> Any:
    settings.GUANXI_LOGIN_MAX_FAILURES = 3
    settings.GUANXI_LOGIN_MAX_FAILURES_PER_IP = 3
    settings.GUANXI_LOGIN_LOCKOUT_SECONDS = 60
    return settings


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the throttle's clock forward instead of sleeping."""
    now = throttle._now()
    monkeypatch.setattr(throttle, "_now", lambda: now + seconds)


def test_throttle_locks_an_email_after_n_failures_and_unlocks_after_the_window(
    client: Client, user: Any, small_limits: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        sign_in(Client(REMOTE_ADDR=f"10.0.0.{_}"), user.email, "wrong-password")
    locked = sign_in(client, user.email)  # the right password, refused
    assert locked.status_code == 429
    assert "Too many failed attempts. Try again in 1 minute" in locked.content.decode()
    assert signed_in_user_id(client) is None
    assert any("locked" in r.getMessage() for r in caplog.records if r.name == "guanxi.security")

    later(monkeypatch, 61)
    response = sign_in(client, user.email)
    assert response.status_code == 302 and str(signed_in_user_id(client)) == str(user.pk)


def test_throttle_does_not_reveal_whether_the_email_exists(client: Client, small_limits: Any) -> None:
    for _ in range(3):
        sign_in(client, "nobody@example.com", "wrong-password")
    assert sign_in(Client(REMOTE_ADDR="10.9.9.9"), "nobody@example.com", "x").status_code == 429


def test_throttle_locks_an_ip_whatever_the_emails(client: Client, user: Any, small_limits: Any) -> None:
    for n in range(3):
        sign_in(client, f"guess{n}@example.com", "wrong-password")
    assert sign_in(client, user.email).status_code == 429
    assert sign_in(Client(REMOTE_ADDR="10.1.1.1"), user.email).status_code == 302  # another address is fine


def test_the_per_ip_limit_can_be_raised_for_shared_addresses(client: Client, user: Any, small_limits: Any) -> None:
    small_limits.GUANXI_LOGIN_MAX_FAILURES_PER_IP = 10
    for n in range(5):
        sign_in(client, f"guess{n}@example.com", "wrong-password")
    assert sign_in(client, user.email).status_code == 302


def test_a_success_clears_the_email_counter(client: Client, user: Any, small_limits: Any) -> None:
    for n in range(2):
        sign_in(Client(REMOTE_ADDR=f"10.2.0.{n}"), user.email, "wrong-password")
    assert sign_in(Client(REMOTE_ADDR="10.3.0.1"), user.email).status_code == 302
    for n in range(2):
        sign_in(Client(REMOTE_ADDR=f"10.4.0.{n}"), user.email, "wrong-password")
    assert sign_in(client, user.email).status_code == 302


def test_wrong_two_factor_codes_are_throttled_too(client: Client, totp_user: Any, small_limits: Any) -> None:
    device = TOTPDevice.objects.get(user=totp_user)
    sign_in(client, totp_user.email)
    wrong = "000000" if totp_code(device) != "000000" else "111111"
    for _ in range(3):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # only our throttle counts
        client.post(reverse("login-2fa"), {"otp_token": wrong})
    refused = client.post(reverse("login-2fa"), {"otp_token": totp_code(device)})
    assert refused.status_code == 429 and "Too many failed attempts" in refused.content.decode()
    assert signed_in_user_id(client) is None
    # A fresh password does not lift it: the counter is cleared only by a complete sign-in.
    assert sign_in(Client(REMOTE_ADDR="10.5.0.1"), totp_user.email).status_code == 429


def test_client_ip_reads_forwarded_for_only_behind_configured_proxies(settings: Any, rf: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    settings.GUANXI_PROXY_HOPS = 0
    assert throttle.client_ip(request) == "10.0.0.1"
    settings.GUANXI_PROXY_HOPS = 1
    assert throttle.client_ip(request) == "5.6.7.8"


# --- password reset and change ----------------------------------------------------------------------


def test_password_reset_sends_a_link_that_sets_a_new_password(client: Client, user: Any) -> None:
    response = client.post(reverse("password_reset"), {"email": "Li.Lei@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["li.lei@example.com"]
    link = re.search(r"http://testserver(/password-reset/\S+/\S+/)", message.body)
    assert link, message.body

    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    new_password = "Fresh-Lychee-2048"
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert {"password": ["old", "new"]} in user_changes(user)
    assert client.get(link.group(1), follow=True).context["validlink"] is False  # the link works once
    assert sign_in(Client(), user.email, new_password).status_code == 302


def test_password_reset_answers_the_same_for_an_unknown_address(client: Client) -> None:
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []
    assert "If an account uses the address" in client.get(reverse("password_reset_done")).content.decode()


def test_a_user_added_without_a_password_can_set_one_by_reset(client: Client) -> None:
    invited = UserFactory(email="new.hire@example.com")
    invited.set_unusable_password()
    invited.save()
    client.post(reverse("password_reset"), {"email": invited.email})
    assert len(mail.outbox) == 1


def test_password_reset_emails_are_rate_limited(client: Client, user: Any, small_limits: Any) -> None:
    for _ in range(5):
        assert client.post(reverse("password_reset"), {"email": user.email}).status_code == 302
    assert len(mail.outbox) == 3


def test_password_change_needs_the_old_password_and_keeps_the_session(client: Client, user: Any) -> None:
    sign_in(client, user.email)
    url = reverse("password_change")
    new_password = "Another-Mango-4096"
    wrong = client.post(url, {"old_password": "nope", "new_password1": new_password, "new_password2": new_password})
    assert wrong.status_code == 200
    response = client.post(
        url, {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password}
    )
    assert response.status_code == 302 and response["Location"] == reverse("account")
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert client.get(reverse("account")).status_code == 200  # still signed in
    assert {"password": ["old", "new"]} in user_changes(user)


# --- the account page -------------------------------------------------------------------------------


def test_a_plain_user_edits_their_own_profile(client: Client, user: Any) -> None:
    """No role, so no identity.user:change permission: the account page still works for themselves."""
    sign_in(client, user.email)
    page = client.get(reverse("account")).content.decode()
    assert 'value="Asia/Shanghai" selected' in page
    version = user.version
    response = client.post(
        reverse("account"),
        {
            "display_name": "李雷 (Sales)",
            "phone": "+86 138 0013 8000",
            "time_zone": "Europe/Berlin",
            "language": "zh-hans",
            "role": "1",
            "is_superuser": "on",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.time_zone, user.language) == ("李雷 (Sales)", "Europe/Berlin", "zh-hans")
    assert user.is_superuser is False and user.role_id is None
    assert user.version == version + 1
    assert user_changes(user)[-1]["time_zone"] == ["Asia/Shanghai", "Europe/Berlin"]
    assert response.cookies["django_language"].value == "zh-hans"


def test_account_page_rejects_an_unknown_time_zone(client: Client, user: Any) -> None:
    sign_in(client, user.email)
    response = client.post(
        reverse("account"), {"display_name": "X", "phone": "", "time_zone": "Mars/Olympus", "language": "en"}
    )
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.time_zone == "Asia/Shanghai"


@pytest.mark.parametrize(
    "data",
    [{"role_id": 1}, {"is_superuser": True}, {"is_staff": True}, {"email": "x@example.com"}, {"team_id": 1}],
)
def test_account_update_refuses_privileged_fields(user: Any, data: dict[str, Any]) -> None:
    role = RoleFactory()
    if "role_id" in data:
        data = {"role_id": role.pk}
    with pytest.raises(FieldErrors):
        account_update(user=user, data={"display_name": "Changed", **data})
    user.refresh_from_db()
    assert user.display_name == "李雷" and not user.is_superuser and user.role_id is None
    assert user.email == "li.lei@example.com"
    assert user_changes(user) == []


def test_account_update_changes_only_the_acting_user(user: Any) -> None:
    other = UserFactory()
    updated = account_update(user=user, data={"display_name": "Li Lei", "language": "en"})
    assert updated.pk == user.pk and updated.display_name == "Li Lei"
    other.refresh_from_db()
    assert other.display_name != "Li Lei"
    assert account_update(user=user, data={"display_name": "Li Lei"}).version == updated.version  # no-op


# --- two-factor enrolment and management ------------------------------------------------------------


def test_enrol_two_factor_with_the_secret_shown_on_the_page(client: Client, user: Any) -> None:
    sign_in(client, user.email)
    page = client.get(reverse("two-factor-setup")).content.decode()
    assert "<svg" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script (CSP)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)
    assert client.get(reverse("two-factor-setup")).content.decode().count(secret) == 1  # same secret on reload
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))

    wrong = client.post(reverse("two-factor-setup"), {"otp_token": "12345"})
    assert wrong.status_code == 400 and not twofactor.has_two_factor(user)
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=None)  # a moment passed

    response = client.post(reverse("two-factor-setup"), {"otp_token": f"{totp(key):06d}"})
    assert response.status_code == 200
    codes = re.findall(r'class="col recovery-code">([a-z2-7]{8})<', response.content.decode())
    assert len(codes) == 10
    assert sorted(codes) == sorted(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert "no-store" in response["Cache-Control"]
    assert twofactor.has_two_factor(user)
    assert client.session[DEVICE_ID_SESSION_KEY]  # this session counts as verified
    assert user_changes(user)[-1] == {"recovery_codes": [None, "new"], "two_factor": ["off", "on"]}
    assert "Enabled" in client.get(reverse("account")).content.decode()

    # Next sign-in asks for the code.
    client.post(reverse("logout"))
    assert sign_in(client, user.email)["Location"] == reverse("login-2fa")


def test_regenerating_recovery_codes_replaces_them(client: Client, totp_user: Any) -> None:
    old = twofactor.recovery_codes_generate(user=totp_user)
    sign_in(client, totp_user.email)
    client.post(reverse("login-2fa"), {"otp_token": totp_code(TOTPDevice.objects.get(user=totp_user))})
    response = client.post(reverse("two-factor-recovery-codes"))
    new = re.findall(r'class="col recovery-code">([a-z2-7]{8})<', response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=totp_user).values_list("token", flat=True)) == set(new)
    assert user_changes(totp_user)[-1] == {"recovery_codes": ["old", "new"]}


def test_disabling_two_factor_needs_a_code_or_the_password(client: Client, totp_user: Any) -> None:
    device = TOTPDevice.objects.get(user=totp_user)
    sign_in(client, totp_user.email)
    client.post(reverse("login-2fa"), {"otp_token": totp_code(device)})

    assert client.post(reverse("two-factor-disable"), {}).status_code == 400
    assert client.post(reverse("two-factor-disable"), {"password": "wrong"}).status_code == 400
    assert twofactor.has_two_factor(totp_user)

    response = client.post(reverse("two-factor-disable"), {"password": PASSWORD})
    assert response.status_code == 302
    assert not twofactor.has_two_factor(totp_user)
    assert not StaticDevice.objects.filter(user=totp_user).exists()
    assert user_changes(totp_user)[-1] == {"two_factor": ["on", "off"]}
    assert sign_in(Client(), totp_user.email)["Location"] == reverse("home")


def test_disable_with_a_current_code(client: Client, totp_user: Any) -> None:
    device = TOTPDevice.objects.get(user=totp_user)
    sign_in(client, totp_user.email)
    client.post(reverse("login-2fa"), {"otp_token": totp_code(device)})
    response = client.post(reverse("two-factor-disable"), {"otp_token": totp_code(device, steps_ahead=1)})
    assert response.status_code == 302 and not twofactor.has_two_factor(totp_user)


def test_an_administrator_resets_a_lost_authenticator(totp_user: Any, user: Any) -> None:
    admin = UserFactory(is_superuser=True)
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied for a plain user
        twofactor.two_factor_reset(target=totp_user, user=user)
    assert twofactor.has_two_factor(totp_user)
    twofactor.two_factor_reset(target=totp_user, user=admin)
    assert not twofactor.has_two_factor(totp_user)
    entry = ChangeLogEntry.objects.filter(object_id=totp_user.pk).latest("pk")
    assert entry.changes == {"two_factor": ["on", "off"]} and entry.actor_id == admin.pk
