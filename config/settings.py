"""Settings for the whole project, driven by environment variables (see README, Configuration)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from practices import log_context, throttle_rates

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / ".data"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


TESTING = "pytest" in sys.modules

# Off unless the environment turns it on: `make run` and `make test` set DEBUG=true, and a test run that
# does not say counts as development, so plain `pytest` works. A process started with DEBUG=false (or
# with no DEBUG at all, outside the tests) is production and refuses to start half-configured.
DEBUG = env_bool("DEBUG", default=TESTING)
# What is missing or wrong (production must set more), all reported at once in "start or refuse" below.
_PROBLEMS: list[str] = []

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-change-me-in-production"
elif (
    len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5  # Django's own rule for a key strong enough (check --deploy, W009)
    or SECRET_KEY.startswith(("dev-only", "django-insecure-"))
):
    _PROBLEMS.append(
        "SECRET_KEY is "
        + ("missing" if not SECRET_KEY else "a development or weak key (50+ characters, 5+ different ones)")
        + '. Make one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )

# Practices live at <slug>.<BASE_DOMAIN>; the platform itself at BASE_DOMAIN.
BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost")
# How links to a practice are written (sign-in links, API base URLs): scheme and port.
SITE_SCHEME = os.environ.get("SITE_SCHEME", "http" if DEBUG else "https")
SITE_PORT = os.environ.get("SITE_PORT", os.environ.get("PORT", "8000") if DEBUG else "")
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"]
if TESTING:
    ALLOWED_HOSTS.append("testserver")

# ---------------------------------------------------------------- applications
SHARED_APPS = [
    # practices comes first so its migrate_schemas (which keeps the template schema migrated)
    # takes precedence over django_tenants' own command.
    "practices",
    "django_tenants",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "practices.admin_site.PlatformAdminConfig",  # django.contrib.admin, operators with two-factor
    # Platform operators sign in through allauth with a second factor (practices/admin_site.py), so its
    # account and MFA tables exist in the public schema as well as in every practice's.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files of our own (no CDN)
    "csp",
]
TENANT_APPS = [
    "practices",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "practices.admin_site.PlatformAdminConfig",
    "allauth",
    "allauth.account",
    "allauth.mfa",  # staff two-factor (practices/two_factor.py)
    "allauth.headless",
    "patients",
    "loyalty",
    "rewards",
    "referrals",
    "analytics",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "practices.Practice"
TENANT_DOMAIN_MODEL = "practices.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New practices are cloned from this schema, kept migrated by migrate_schemas.
TENANT_BASE_SCHEMA = "practice_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
DEFAULT_NOT_FOUND_TENANT_VIEW = "practices.views.unknown_host"
DATABASE_ROUTERS = ["practices.routers.PracticeRouter", "django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    # First, so that every response carries its X-Request-ID and every log line of the request its id.
    "config.request_id.RequestIdMiddleware",
    "practices.health.HealthMiddleware",  # /healthz, before the practice lookup (which needs the database)
    # Before the practice lookup, so that every page (the unknown-host page too) has its policy and nonce.
    "csp.middleware.CSPMiddleware",
    "practices.middleware.PracticeMiddleware",
    "config.request_id.PracticeLogMiddleware",
    "practices.middleware.reject_nul_bytes",
    "config.api_errors.JsonTooDeep",
    "config.api_errors.JsonApiErrors",  # a 404 or 405 under /api/ is JSON, also with DEBUG on
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "patients.ratelimits.RetryAfterMiddleware",  # every 429 with Retry-After; allauth's RateLimited as a 429
]

ROOT_URLCONF = "config.urls_practice"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
WSGI_APPLICATION = "config.wsgi.application"

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
                "practices.context_processors.practice",
            ],
        },
    },
]

# ---------------------------------------------------------------- database
if os.environ.get("DATABASE_URL"):
    _database = dj_database_url.parse(os.environ["DATABASE_URL"])
else:
    from config.embedded_db import start as _start_embedded_postgres

    _database = _start_embedded_postgres(DATA_DIR)
# Seconds a connection is kept for the next request. Off in development: runserver serves each request on a
# thread of its own, and a connection kept by every one of them would add up to PostgreSQL's limit.
_database["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "0" if DEBUG else "60"))
# django-tenants' backend, which sets the practice's search_path.
_database["ENGINE"] = "django_tenants.postgresql_backend"
# Set the search_path once per connection and practice, not before every statement (it is set again when
# the practice changes, on rollback and on reconnect).
TENANT_LIMIT_SET_CALLS = True
# Parameters sent apart from the SQL, and each statement prepared by the server once it has run a few
# times on a connection: PostgreSQL then skips parsing and planning it again, which halves its CPU per POS
# purchase (bench/README.md). Prepared statements live in the database session, so a pooler must use
# session pooling (as DESIGN.md requires anyway); they are re-planned when the search_path changes.
_database.setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
# An unreachable database host fails a request (and /healthz) in seconds, not after TCP's own minutes.
_database["OPTIONS"].setdefault("connect_timeout", int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")))
_database.setdefault("TEST", {})
if os.environ.get("TEST_DATABASE_NAME"):  # lets several test runs share one server
    _database["TEST"]["NAME"] = os.environ["TEST_DATABASE_NAME"]
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------- cache
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL and "socket_timeout" not in REDIS_URL:
    # A Redis that does not answer fails the call in seconds (the task waits in the outbox for the sweep)
    # instead of holding the request; timeouts given in the URL itself win.
    REDIS_URL += ("&" if "?" in REDIS_URL else "?") + "socket_connect_timeout=2&socket_timeout=5"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_entries",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }

# ---------------------------------------------------------------- auth
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "/staff/login/"
LOGIN_REDIRECT_URL = "/staff/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/staff/login/"
ACCOUNT_ADAPTER = "patients.adapters.AccountAdapter"
# Staff sign in by email and password (/staff/login/); patients by phone and a code sent by SMS, or by a code
# sent to their email address once they confirmed it (patients.signup: staff never get a code by email).
ACCOUNT_LOGIN_METHODS = {"email", "phone"}
# Both optional for allauth (staff have no phone and must pass its login stages); the join form requires
# the phone. The email is optional for patients.
ACCOUNT_SIGNUP_FIELDS = ["phone", "email"]
ACCOUNT_SIGNUP_FORM_CLASS = "patients.forms.JoinDetailsForm"
ACCOUNT_FORMS = {"login": "practices.forms.StaffLoginForm", "request_login_code": "patients.signup.RequestCodeForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
# A new email address is used once its emailed link is opened; the old one stays until then.
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_TIMEOUT = 10 * 60
ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS = 5
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 10 * 60
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 5
ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND = True
# A known number signs in instead of joining twice, so whether a number is known is not hidden.
ACCOUNT_PREVENT_ENUMERATION = False
ALLAUTH_USER_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Code sends are limited per phone ("key") and per address; attempts per code by MAX_ATTEMPTS. Over a limit:
# 429 with Retry-After (patients.ratelimits). A waiting room shares one address, so sign-ups per address are
# generous; every sign-up texts a code, so verify_phone's per-address limits are at least signup's.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "request_login_code": "20/m/ip,3/10m/key",
    "verify_phone": "30/m/ip,300/h/ip,3/10m/key",
    "signup": "30/m/ip,300/h/ip",
}
HEADLESS_CLIENTS = ("app",)
# Staff and platform operators' two-factor (practices/two_factor.py): an authenticator app (TOTP) and
# recovery codes, shown once when made.
MFA_ADAPTER = "practices.two_factor.TwoFactorAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_RECOVERY_CODES_SHOW_ONCE = True
MFA_FORMS = {
    "authenticate": "practices.two_factor.AuthenticateForm",
    "reauthenticate": "practices.two_factor.ReauthenticateForm",
    "activate_totp": "practices.two_factor.ActivateForm",
}

# ---------------------------------------------------------------- API
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "patients.api_auth.SessionTokenAuthentication",  # allauth's X-Session-Token; 401 when wrong or expired
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "practices.pagination.PageNumberPagination",  # ?page_size=, at most 200
    "PAGE_SIZE": 50,
    # Request limits (practices/throttles.py, docs/api.md): over one, 429 rate_limited with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["practices.throttles.PatientApiThrottle", "practices.throttles.PosApiThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        # per client address: share pages /r/<code> (per practice) and the platform's code look-up (resolve)
        "code_lookup": os.environ.get("THROTTLE_CODE_LOOKUPS", "20/minute"),
        # per signed-in user: the patient API
        "patient_api": os.environ.get("THROTTLE_PATIENT_API", "120/minute"),
        # per POS API key
        "pos_api": os.environ.get("THROTTLE_POS_API", "3000/minute"),
    },
    # The client's address behind TRUSTED_PROXY_COUNT proxies (below): the one the nearest proxy appended to
    # X-Forwarded-For; without proxies REMOTE_ADDR, whatever X-Forwarded-For says.
    "NUM_PROXIES": int(os.environ.get("TRUSTED_PROXY_COUNT") or (1 if env_bool("BEHIND_PROXY") else 0)),
}
for _scope, _rate in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].items():
    try:
        throttle_rates.parse_rate(_rate)
    except ValueError as _error:
        _PROBLEMS.append(f"The request limit {_scope} is not valid: {_error}.")
# How many proxies in front of the web processes append to X-Forwarded-For: request limits per address (ours
# and allauth's) count the client, not the proxy. 1 behind the TLS proxy (BEHIND_PROXY), 0 otherwise.
TRUSTED_PROXY_COUNT = REST_FRAMEWORK["NUM_PROXIES"]
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
SPECTACULAR_SETTINGS = {
    "TITLE": "Practice loyalty API",
    "DESCRIPTION": "Loyalty, rewards and referrals for one practice. Served on the practice's own host.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge fetched from swagger.io (it would send it the schema's address).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Named choice sets that several serializers share, so the schema's enums have stable names.
    "ENUM_NAME_OVERRIDES": {
        "BatchItemStatusEnum": ["created", "already_recorded", "error"],
        "VoucherStatusEnum": "rewards.models.Redemption.Status",
    },
}
# Every operation documents the shared error answers (400, 401, 403, 404, 429; 415 with a body).
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "config.api_schema.document_error_responses",
]
# A POS refund without refund_id identical to one recorded for the same purchase this recently is refused
# (409 duplicate_refund): it is most likely the same request sent again. 0 turns the check off.
POS_DUPLICATE_REFUND_MINUTES = int(os.environ.get("POS_DUPLICATE_REFUND_MINUTES", "10"))

# ---------------------------------------------------------------- background work
Q_CLUSTER = {
    "name": "loyalty",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 120,
    "retry": 300,
    "max_attempts": 3,
    "catch_up": False,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if TESTING:
    Q_CLUSTER["sync"] = True

# The outbox of background tasks (practices.tasks): a task not finished `redrive_after_seconds` after it
# was queued is handed to the queue again by the sweep (every minute); a failed one is retried after
# retry_base_seconds, doubling up to retry_max_seconds, and given up after max_attempts (then it is listed
# as failed in the platform admin, where it can be retried).
BACKGROUND_TASKS = {
    "redrive_after_seconds": int(os.environ.get("TASK_REDRIVE_AFTER", "60")),
    "retry_base_seconds": 30,
    "retry_max_seconds": 3600,
    "max_attempts": int(os.environ.get("TASK_MAX_ATTEMPTS", "8")),
    "sweep_batch": 500,
    "keep_finished_days": 7,
}

# Jobs run once a day for every active practice, each inside that practice's schema.
PRACTICE_DAILY_JOBS = [
    "practices.jobs.clear_expired_sessions",
    "practices.jobs.delete_old_private_files",
    "patients.jobs.remove_stale_signups",
    "patients.jobs.remove_expired_phone_changes",
    "loyalty.jobs.run_daily_jobs",
    "rewards.jobs.run_daily_jobs",
    "analytics.jobs.run_daily_jobs",
]
# Jobs run every five minutes for every active practice.
PRACTICE_FREQUENT_JOBS = [
    "patients.tasks.release_waiting_messages",
    "patients.tasks.redrive_stuck_work",
    "referrals.tasks.redrive_stuck_referrals",
]

# ---------------------------------------------------------------- files
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media"))
MEDIA_URL = "/media/"
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
# Files with patient data (import lists): outside MEDIA_ROOT, never served, one folder per practice schema,
# deleted when their work is done and in any case after PRIVATE_FILES_KEEP_DAYS (see practices.private_files).
PRIVATE_ROOT = Path(os.environ.get("PRIVATE_ROOT", DATA_DIR / "private"))
PRIVATE_FILES_KEEP_DAYS = int(os.environ.get("PRIVATE_FILES_KEEP_DAYS", "7"))
# Uploaded pictures (logos, reward pictures) with more pixels are refused from their header, before decoding.
MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", "25000000"))

# ---------------------------------------------------------------- i18n
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------- security
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy on every page (django-csp; docs/operations.md, "Headers and request limits"): scripts and
# styles only from our own static files, plus the one inline <style> with the practice's colours, allowed by
# the request's nonce (templates/_brand.html). No inline scripts, event-handler attributes or style attributes:
# tests/practices/test_csp.py renders the pages and refuses them. Images may be data: URIs (Swagger UI's icons).
# The API docs pages widen it for themselves (config/api_docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],  # htmx requests, the push subscription
        "worker-src": ["'self'"],  # the service worker, /sw.js
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
if env_bool("BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# ---------------------------------------------------------------- logs
# Every line has its time (UTC), level, logger, request id and practice (practices/log_context.py): readable
# text, or one JSON object per line with LOG_FORMAT=json. Application lines go to stderr, gunicorn's access
# lines (one per request, with the request id) to stdout; gunicorn.conf.py starts from the same config.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    _PROBLEMS.append(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
    LOG_FORMAT = "text"
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = log_context.logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
LOGGING["loggers"] |= {
    # Django's own handlers (a plain console one in debug, runserver's request lines) give way to ours.
    "django": {"handlers": [], "propagate": True},
    "django.server": {"handlers": [], "propagate": True},
    "pgserver": {"level": "WARNING"},
    "django-q": {"level": "WARNING" if TESTING else "INFO"},
}

# Emails are unique case-insensitively (a functional unique constraint on accounts.User),
# which the auth check cannot see.
# allauth warns that email/phone are login methods but optional at sign-up: staff have no phone and
# patients may have no email, and the join form itself requires the phone.
SILENCED_SYSTEM_CHECKS = ["auth.W004", "account.W001"]

# ---------------------------------------------------------------- SMS and notifications
# "twilio" in production, "console" (prints messages) in development, "locmem" in tests. Production names
# it: a default there would print patients' sign-in codes to the log instead of texting them.
SMS_BACKEND = os.environ.get("SMS_BACKEND") or ("locmem" if TESTING else "console" if DEBUG else "")
if not SMS_BACKEND:
    _PROBLEMS.append(
        "SMS_BACKEND is not set: twilio (with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and a sender), "
        "or console to write texts to the log."
    )
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
# Marketing messages wait outside these hours (practice's local time).
SMS_QUIET_HOURS = (21, 9)
VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY", "")
VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY", "")
VAPID_CONTACT = os.environ.get("VAPID_CONTACT", "mailto:support@example.com")

# ---------------------------------------------------------------- email
# Password resets and staff mail. EMAIL_URL: smtp://user:password@host:587, smtp+tls://... (STARTTLS),
# smtp+ssl://... (TLS from the start), consolemail:// (prints), locmemmail:// (kept in memory);
# user and password percent-encoded. Production names it; development prints, tests keep mail in memory.
_EMAIL_SCHEME_ALIASES = {"console": "consolemail", "locmem": "memorymail", "locmemmail": "memorymail"}
_email_url = os.environ.get("EMAIL_URL") or ("locmemmail://" if TESTING else "consolemail://" if DEBUG else "")
_email: dict = {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
if not _email_url:
    _PROBLEMS.append(
        "EMAIL_URL is not set: e.g. smtp+tls://user:password@smtp.example.com:587, "
        "or consolemail:// to write emails to the log."
    )
else:
    import environ

    _scheme, _, _rest = _email_url.partition("://")
    try:
        _email = environ.Env.email_url_config(f"{_EMAIL_SCHEME_ALIASES.get(_scheme, _scheme)}://{_rest}")
    except ImproperlyConfigured:
        _PROBLEMS.append(
            f"EMAIL_URL has an unknown scheme {_scheme!r}: use smtp, smtp+tls, smtp+ssl, consolemail or locmemmail."
        )
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10  # seconds; a stalled mail server must not hold a web worker for good
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"no-reply@{BASE_DOMAIN}")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Links in emails (password reset) use the practice's host from the request; behind a proxy that ends TLS
# they must still say https.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = SITE_SCHEME
# Subjects name the practice themselves (templates/account/email/), not "[<host name>] ..." as allauth would.
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""

# ---------------------------------------------------------------- error reporting
# Sentry when SENTRY_DSN is set, with patients' data scrubbed from what is sent (config/sentry.py).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT") or ("development" if DEBUG else "production")
try:
    SENTRY_TRACES_SAMPLE_RATE = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0)
except ValueError:
    SENTRY_TRACES_SAMPLE_RATE = -1.0
if not 0 <= SENTRY_TRACES_SAMPLE_RATE <= 1:
    _PROBLEMS.append("SENTRY_TRACES_SAMPLE_RATE must be a number from 0 to 1.")

# ---------------------------------------------------------------- start or refuse
if _PROBLEMS:
    raise ImproperlyConfigured(
        "The settings are incomplete or invalid"
        + ("" if DEBUG else " (DEBUG is off: production)")
        + ":\n"
        + "\n".join(f"- {problem}" for problem in _PROBLEMS)
        + ("" if DEBUG else "\nFor development, set DEBUG=true (make run and make test do).")
    )
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# ---------------------------------------------------------------- health (/healthz, docs/operations.md)
# With a token, `Authorization: Bearer <token>` shows the checks' details on any host (the platform host
# always shows them; practice hosts and bare addresses get the status and the failing checks only).
HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "")
# Workers count as down when no worker cluster has reported for this many seconds.
HEALTHZ_WORKER_GRACE = int(os.environ.get("HEALTHZ_WORKER_GRACE", "60"))
# Background tasks count as stuck when one has waited this many seconds past the time it was due (the
# sweep hands due tasks over every minute, so with workers running nothing waits that long).
HEALTHZ_TASK_DELAY = int(os.environ.get("HEALTHZ_TASK_DELAY", "900"))
