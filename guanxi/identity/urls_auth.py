"""Sign-in, sign-out, password reset/change, the account page and two-factor set-up.

Included at the site root by guanxi/urls.py: ``path("", include("guanxi.identity.urls_auth"))``.
The names are global (no namespace) because Django's auth machinery reverses "login",
"password_reset_done", "password_reset_complete" by those plain names.
"""

from django.urls import path

from guanxi.identity import auth_views

urlpatterns = [
    path("login/", auth_views.login_view, name="login"),
    path("login/2fa/", auth_views.login_2fa_view, name="login-2fa"),
    path("logout/", auth_views.logout_view, name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("account/", auth_views.account_view, name="account"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("account/two-factor/", auth_views.two_factor_setup_view, name="two-factor-setup"),
    path("account/two-factor/disable/", auth_views.two_factor_disable_view, name="two-factor-disable"),
    path(
        "account/two-factor/recovery-codes/",
        auth_views.recovery_codes_view,
        name="two-factor-recovery-codes",
    ),
]
