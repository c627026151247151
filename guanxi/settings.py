"""One settings module, driven by environment variables.

Defaults work on a laptop (SQLite, database task queue, local-memory cache). Set
``DATABASE_URL`` for PostgreSQL and ``REDIS_URL`` to move tasks, cache and sessions to Redis.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("GUANXI_DATA_DIR", BASE_DIR.parent / "var"))

DEFAULT_SECRET_KEY = "guanxi-insecure-development-key-change-me"  # refused by `guanxi serve --production`


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = env_bool("GUANXI_PRODUCTION")
DEBUG = env_bool("GUANXI_DEBUG", default=not PRODUCTION)
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env_list("GUANXI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("GUANXI_CSRF_TRUSTED_ORIGINS")
TESTING = env_bool("GUANXI_TESTING")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "ninja",  # serves the vendored Swagger UI for /api/v1/docs (no CDN)
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "guanxi.core",
    "guanxi.identity",
    "guanxi.customers",
    "guanxi.activities",
    "guanxi.api",
]
if TESTING:
    # A small owned model used by the permission-matrix tests (tests/testapp).
    INSTALLED_APPS.append("tests.testapp")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "guanxi.core.middleware.RequestContextMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "guanxi.identity.twofactor.TwoFactorMiddleware",
    "guanxi.identity.middleware.UserPreferencesMiddleware",
    "guanxi.identity.middleware.SessionRenewalMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "guanxi.urls"
WSGI_APPLICATION = "guanxi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "csp.context_processors.nonce",
                "guanxi.core.context_processors.navigation",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'guanxi.sqlite3'}",
        conn_max_age=int(os.environ.get("GUANXI_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE transactions take the write lock
    # up front so two writers queue instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA busy_timeout=20000;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA mmap_size=268435456;"
            "PRAGMA cache_size=-65536;"
        ),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if TESTING else DATABASES["default"]["CONN_MAX_AGE"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("GUANXI_DB_PREPARED", True):
    # Parameters bound by the server, and a statement run twice on a connection kept prepared
    # there: a list or a record's read repeats the same few statements, and PostgreSQL then skips
    # parsing and planning them. At 1M contacts, in process: the contact list 11-12 -> 8.0 ms, a
    # contact 8.0-8.5 -> 6.0 ms. Django leaves both off for connection poolers that move a session
    # between server connections (pgbouncer in transaction mode): set GUANXI_DB_PREPARED=0 there.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, sessions, tasks -------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL and TESTING and os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
    # Parallel test workers share one Redis server: each takes its own database (counting down from
    # the one in the URL), because cache.clear() flushes a whole database, not a key prefix.
    from urllib.parse import urlsplit

    _redis = urlsplit(REDIS_URL)
    _redis_db = (int(_redis.path.strip("/") or 0) - int(os.environ["PYTEST_XDIST_WORKER"][2:])) % 16
    REDIS_URL = _redis._replace(path=f"/{_redis_db}").geturl()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("GUANXI_CACHE_PREFIX", "guanxi"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
if TESTING and not env_bool("GUANXI_TEST_REAL_QUEUE"):
    # Tests run tasks in-process so a job's effect is visible to the assertion that follows.
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# --- auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = ["guanxi.identity.backends.EmailBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 is deliberately slow; tests create hundreds of users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
OTP_TOTP_ISSUER = "Guanxi"
GUANXI_REQUIRE_2FA = env_bool("GUANXI_REQUIRE_2FA")
GUANXI_LOGIN_MAX_FAILURES = int(os.environ.get("GUANXI_LOGIN_MAX_FAILURES", "5"))
GUANXI_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("GUANXI_LOGIN_LOCKOUT_SECONDS", "900"))
# Failures allowed from one client address; raise it when a whole office signs in through one NAT address.
GUANXI_LOGIN_MAX_FAILURES_PER_IP = int(
    os.environ.get("GUANXI_LOGIN_MAX_FAILURES_PER_IP", str(GUANXI_LOGIN_MAX_FAILURES))
)
# Reverse proxies in front of Guanxi: the client address for login throttling is then read from
# X-Forwarded-For. Leave 0 when clients connect directly (the header could be forged).
GUANXI_PROXY_HOPS = int(os.environ.get("GUANXI_PROXY_HOPS", "0"))

# Sessions end after this much inactivity: guanxi.identity.middleware.SessionRenewalMiddleware pushes
# the expiry forward every few minutes while the user is active (not on every request: a write).
SESSION_COOKIE_AGE = int(os.environ.get("GUANXI_SESSION_TIMEOUT", str(8 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- security ---------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("GUANXI_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("GUANXI_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

# --- i18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("GUANXI_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("GUANXI_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise warns on every start while the directory is missing (before the first collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("GUANXI_MEDIA_ROOT", DATA_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

GUANXI_ATTACHMENT_MAX_BYTES = int(os.environ.get("GUANXI_ATTACHMENT_MAX_BYTES", str(20 * 1024 * 1024)))
GUANXI_ATTACHMENT_TYPES = env_list(
    "GUANXI_ATTACHMENT_TYPES",
    ".pdf,.png,.jpg,.jpeg,.gif,.webp,.txt,.csv,.xlsx,.xls,.docx,.doc,.pptx,.zip,.eml,.msg",
)
GUANXI_RECYCLE_BIN_DAYS = int(os.environ.get("GUANXI_RECYCLE_BIN_DAYS", "30"))
# Masked fields (号码脱敏) a user may see in full a day, each logged (guanxi.core.masking).
GUANXI_REVEALS_PER_DAY = int(os.environ.get("GUANXI_REVEALS_PER_DAY", "100"))
# Searches an hour that may find an email or phone a user sees masked by its whole value
# (guanxi.core.search.lookups): past them, until the clock hour ends, masked values are not searched.
GUANXI_MASKED_LOOKUPS_PER_HOUR = int(os.environ.get("GUANXI_MASKED_LOOKUPS_PER_HOUR", "120"))
# Notifications (通知) older than this go with the daily purge, read or not.
GUANXI_NOTIFICATION_DAYS = int(os.environ.get("GUANXI_NOTIFICATION_DAYS", "90"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- email ------------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("GUANXI_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("GUANXI_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("GUANXI_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("GUANXI_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("GUANXI_SMTP_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("GUANXI_FROM_EMAIL", "Guanxi <noreply@localhost>")
# Where people open Guanxi: the links of emails sent by background work (notifications) start with it.
# In production it defaults to https:// and the first of the allowed hosts (checked: guanxi.W001/E004).
_FIRST_HOST = next((h for h in ALLOWED_HOSTS if h and not h.startswith(".") and h != "*"), "")
GUANXI_SITE_URL = os.environ.get(
    "GUANXI_SITE_URL",
    (f"https://{_FIRST_HOST}" if _FIRST_HOST else "") if PRODUCTION else "http://127.0.0.1:8000",
).rstrip("/")
EMAIL_BACKEND = os.environ.get(
    "GUANXI_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION or os.environ.get("GUANXI_SMTP_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)

# --- logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GUANXI_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers (console in DEBUG, mail to ADMINS) would print each message twice:
        # everything goes to the root handler instead, where the process manager collects it.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
