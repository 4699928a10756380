"""Settings shared by every environment. Everything configurable comes from
environment variables (see the table in docs/operations.md)."""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "django_filters",
    "django_htmx",
    "rest_framework",
    "knox",
    "auditlog",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "accounts",
    "notifications",
    "health",
    "risks",
    "reviews",
    "rules",
    "reports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A NUL anywhere in the path, the query or a form → 400 before anything reads it.
    "core.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs sign-in unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Who changed what in people, regions, segments, root causes and accounts.
    "core.middleware.AuditlogMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    # A service's NotAllowed that a page lets through → the 403 page, in its words.
    "core.middleware.DomainErrorMiddleware",
    "core.middleware.PrivateCacheMiddleware",
]

ROOT_URLCONF = "config.urls"
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
                "config.context_processors.navigation",
                "config.context_processors.currency",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# DATABASE_URL, e.g. postgres://user:pass@host:5432/redaccount. Each settings
# module picks its own default (SQLite for local, PostgreSQL for tests).
DEFAULT_DATABASE_URL = ""


def database_from_env(default_url: str) -> dict:
    url = os.environ.get("DATABASE_URL") or default_url
    if not url:
        raise ImproperlyConfigured("DATABASE_URL is not set.")
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config.setdefault("CONN_MAX_AGE", env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0))
        config["CONN_HEALTH_CHECKS"] = True
        # No JIT compilation: it pays off only for long analytic scans, and it
        # spends seconds compiling the wide health-scoring statement for
        # chunks that run in milliseconds.
        options = config.setdefault("OPTIONS", {})
        options["options"] = (options.get("options", "") + " -c jit=off").strip()
    config["ATOMIC_REQUESTS"] = False
    return config


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed sign-ins (web form and API token) per username and client address:
# this many within LOGIN_LOCKOUT_MINUTES lock the pair for that long (accounts/throttle.py).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)

# API tokens (django-rest-knox): stored hashed, valid this many days, revocable,
# and all revoked when the password changes (accounts/signals.py).
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90, minimum=1)
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(days=API_TOKEN_TTL_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# The audit trail (django-auditlog) records REMOTE_ADDR only: X-Forwarded-For
# is written by the client (core.middleware.AuditlogMiddleware).
AUDITLOG_DISABLE_REMOTE_ADDR = False

# Forms render their errors next to each field (templates/forms/).
FORM_RENDERER = "config.forms.FormRenderer"

# --- Single sign-on (OpenID Connect) -------------------------------------------
# On when OIDC_RP_CLIENT_ID is set (accounts/oidc.py, mozilla-django-oidc). The
# provider's endpoints and keys come from its discovery document, fetched on the
# first sign-in (never at start-up) and cached; an OIDC_OP_* variable overrides
# the discovered value. While it is on only administrators sign in with a password.
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "").strip()
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "").strip()
OIDC_OP_DISCOVERY_URL = os.environ.get("OIDC_OP_DISCOVERY_URL", "").strip()
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "").strip()
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "").strip()
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "").strip()
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "").strip()
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "").strip()
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "").strip() or "RS256"
OIDC_RP_SCOPES = " ".join(os.environ.get("OIDC_RP_SCOPES", "").split()) or "openid email profile"
OIDC_CREATE_USERS = env_bool("OIDC_CREATE_USERS", default=False)
# A sign-in needs the provider to say the email address is verified
# (email_verified); this accepts the address of a provider that never says
# either way. One it marks as not verified is refused all the same.
OIDC_TRUST_UNVERIFIED_EMAIL = env_bool("OIDC_TRUST_UNVERIFIED_EMAIL", default=False)
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "").strip() or "single sign-on"
# Seconds a request to the provider may take (discovery, keys, token, userinfo).
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10, minimum=1)
# The library's switches: a nonce and a PKCE challenge in every sign-in, and
# our views (accounts/oidc.py) behind its URLs.
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_AUTHENTICATE_CLASS = "accounts.oidc.AuthenticateView"
OIDC_CALLBACK_CLASS = "accounts.oidc.CallbackView"


def check_single_sign_on() -> None:
    """Stops start-up when single sign-on is on but misconfigured, naming the
    variable to fix. Reads only the settings above; nothing is fetched."""
    urls = {
        "OIDC_OP_DISCOVERY_URL": OIDC_OP_DISCOVERY_URL,
        "OIDC_OP_ISSUER": OIDC_OP_ISSUER,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": OIDC_OP_AUTHORIZATION_ENDPOINT,
        "OIDC_OP_TOKEN_ENDPOINT": OIDC_OP_TOKEN_ENDPOINT,
        "OIDC_OP_USER_ENDPOINT": OIDC_OP_USER_ENDPOINT,
        "OIDC_OP_JWKS_ENDPOINT": OIDC_OP_JWKS_ENDPOINT,
    }
    if not OIDC_RP_CLIENT_SECRET:
        raise ImproperlyConfigured(
            "OIDC_RP_CLIENT_SECRET must be set when OIDC_RP_CLIENT_ID is (single sign-on)."
        )
    for name, url in urls.items():
        if url and not url.startswith(("https://", "http://")):
            raise ImproperlyConfigured(f"{name}={url!r} is not an http(s) URL.")
    if OIDC_OP_DISCOVERY_URL and not OIDC_OP_DISCOVERY_URL.endswith(
        "/.well-known/openid-configuration"
    ):
        raise ImproperlyConfigured(
            f"OIDC_OP_DISCOVERY_URL={OIDC_OP_DISCOVERY_URL!r} must be the address of the "
            "provider's discovery document, ending in /.well-known/openid-configuration."
        )
    algorithms = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256")
    if OIDC_RP_SIGN_ALGO not in algorithms:
        raise ImproperlyConfigured(
            f"OIDC_RP_SIGN_ALGO={OIDC_RP_SIGN_ALGO!r} is not one of: {', '.join(algorithms)}."
        )
    if not {"openid", "email"} <= set(OIDC_RP_SCOPES.split()):
        raise ImproperlyConfigured(
            f"OIDC_RP_SCOPES={OIDC_RP_SCOPES!r} must include openid and email "
            "(people are matched by their email address)."
        )
    if not OIDC_OP_DISCOVERY_URL:
        needed = [name for name in urls if name != "OIDC_OP_DISCOVERY_URL"]
        if OIDC_RP_SIGN_ALGO.startswith("HS"):  # signed with the client secret: no keys
            needed.remove("OIDC_OP_JWKS_ENDPOINT")
        missing = [name for name in needed if not urls[name]]
        if missing:
            raise ImproperlyConfigured(
                "Single sign-on (OIDC_RP_CLIENT_ID) needs OIDC_OP_DISCOVERY_URL, or else "
                f"{', '.join(missing)}."
            )


AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if OIDC_RP_CLIENT_ID:
    check_single_sign_on()
    AUTHENTICATION_BACKENDS.append("accounts.oidc.OIDCBackend")

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not an IANA time zone name.") from None
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS: list[Path] = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ----------------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587 or consolemail://
EMAIL_CONFIG = env.email_url_config(os.environ.get("EMAIL_URL") or "consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Red Account <red-account@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Seconds an SMTP connection may block; a hung mail server must not hold a
# worker (or the outbox row lock, see notifications/delivery.py) indefinitely.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
# The currency every amount of money is in (ISO 4217 code), shown with amounts.
CURRENCY = os.environ.get("CURRENCY", "USD").strip().upper()
if not (len(CURRENCY) == 3 and CURRENCY.isascii() and CURRENCY.isalpha()):
    raise ImproperlyConfigured(
        f"CURRENCY must be a 3-letter ISO 4217 code, e.g. EUR; got {CURRENCY!r}."
    )

# Absolute base of the links in notification emails (no trailing slash). The
# local settings derive the default from PORT instead (the port `make run` serves).
SITE_URL = (os.environ.get("SITE_URL") or "http://127.0.0.1:8000").rstrip("/")

# --- Slack and webhooks -------------------------------------------------------------
# Slack and webhook URLs must be https:// (production turns this on) and may not
# point at loopback or private addresses unless WEBHOOK_ALLOW_PRIVATE is on.
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", default=False)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# The first retry of a failed Slack message or webhook delivery waits between
# half and all of this many seconds; each further one twice as long (at most 4 h).
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=1)
# The key the stored Slack URLs and signing secrets are encrypted with; derived
# from SECRET_KEY when empty (changing either makes them unreadable).
ENCRYPTION_KEY = os.environ.get("ENCRYPTION_KEY", "")

# --- Redis, cache and Celery ----------------------------------------------------
# With REDIS_URL set, Redis is the Celery broker and the cache. Without it the
# cache is in memory and tasks execute in-process, except in the local settings,
# which use the embedded broker below with a real worker and beat (`make run`).
REDIS_URL = os.environ.get("REDIS_URL", "")


def redis_settings(redis_url: str) -> dict:
    if redis_url:
        return {
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": redis_url,
                    # Fail fast when Redis is down rather than hold a request.
                    "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
                }
            },
            "CELERY_BROKER_URL": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": False,
        }
    return {
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": True,
    }


def embedded_broker_settings(folder: Path) -> dict:
    """A broker without a server, for one machine: kombu's filesystem transport
    keeps each queued message as a file under ``folder`` (the queue in
    ``folder/queue``, exchange bindings in ``folder/control``). config/celery_app.py
    creates the folders. The local settings use it when REDIS_URL is unset, so
    `make run` has a real worker and beat, as in production.

    Unlike Redis it has no visibility timeout: a message taken by a worker that
    is killed (not stopped) is lost; a stopped worker puts its messages back."""
    return {
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {
            **CELERY_BROKER_TRANSPORT_OPTIONS,
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
        },
    }


vars().update(redis_settings(REDIS_URL))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Publishing must fail fast when Redis is down: web requests enqueue after
# commit, and the outbox (notifications.OutboundMessage) plus its periodic sweep deliver
# whatever could not be enqueued. Without these, .delay() retries for minutes.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # One immediate retry when publishing, instead of kombu's default wait.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
    # Redis hands a task that a worker took but never acknowledged (tasks are
    # acknowledged late: the worker was killed or lost power mid-task) to
    # another worker only after this many seconds; kombu's default is an hour.
    # It must exceed the longest a worker legitimately holds a task, or a task
    # still running (or waiting for its retry countdown, which the worker holds)
    # is handed out a second time: the longest retry countdown (retry_backoff_max,
    # 600 s) plus the longest hard time limit (CELERY_TASK_TIME_LIMIT, 300 s),
    # with a margin. tests/config/test_make_run.py checks it.
    "visibility_timeout": 1200,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}
CELERY_TASK_IGNORE_RESULT = True

# --- REST API (docs/api.md) ------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: DRF answers an anonymous request with the first
    # authenticator's challenge; only the token scheme has one, which makes
    # "not signed in" a 401 (with WWW-Authenticate) rather than a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.AuditedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON only: the browsable API's inline scripts would break our CSP, and
    # /api/docs/ documents every endpoint.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Red Account API",
    "DESCRIPTION": (
        "Risk records of at-risk customer accounts, their escalations and timelines. "
        "Authenticate with a session or `Authorization: Token <key>` "
        "(POST /api/v1/auth/token/). Money is a decimal string with two places."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One name per choice set that several fields share.
    "ENUM_NAME_OVERRIDES": {
        # risks
        "TierEnum": "risks.models.Tier",
        "RiskStatusEnum": "risks.models.RiskStatus",
        "EscalationStatusEnum": "risks.models.EscalationStatus",
        "TimelineKindEnum": "risks.models.TimelineKind",
        "StepOwnerEnum": "risks.models.StepOwner",
        "TaskSourceEnum": "risks.models.TaskSource",
        # accounts (an account's current band and every health score's band)
        "HealthBandEnum": "accounts.models.HealthBand",
        # a renewal's outcome, beside a risk record's closing outcome
        "RenewalOutcomeEnum": "accounts.models.RenewalOutcome",
    },
    # The signed webhook events (docs/api.md, "Webhook events"): each app's
    # integrations module describes the payloads it sends. A document with
    # webhooks is OpenAPI 3.1.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": [
        "risks.integrations.RISK_OPENED_WEBHOOK",
        "risks.integrations.RISK_ESCALATED_WEBHOOK",
        "risks.integrations.RISK_CLOSED_WEBHOOK",
        "risks.integrations.ESCALATION_REQUESTED_WEBHOOK",
        "risks.integrations.ESCALATION_DECIDED_WEBHOOK",
        "reviews.integrations.AGENDA_GENERATED_WEBHOOK",
        "rules.integrations.RULE_MATCHED_WEBHOOK",
        "risks.integrations.TASK_OVERDUE_WEBHOOK",
    ],
}

# --- Application ----------------------------------------------------------------
# How many hours before a region's weekly meeting its agenda is generated.
REVIEW_AGENDA_LEAD_HOURS = env_int("REVIEW_AGENDA_LEAD_HOURS", 24, minimum=1)

# Health bands: green at or above HEALTH_GREEN_AT, red below HEALTH_RED_BELOW.
HEALTH_GREEN_AT = env_int("HEALTH_GREEN_AT", 70, minimum=1)
HEALTH_RED_BELOW = env_int("HEALTH_RED_BELOW", 40, minimum=0)
if not HEALTH_RED_BELOW <= HEALTH_GREEN_AT <= 100:
    raise ImproperlyConfigured(
        f"HEALTH_RED_BELOW={HEALTH_RED_BELOW} must not exceed "
        f"HEALTH_GREEN_AT={HEALTH_GREEN_AT}, which must be at most 100."
    )
# Accounts scored per SQL statement.
HEALTH_SCORE_CHUNK = env_int("HEALTH_SCORE_CHUNK", 2500, minimum=1)
# Database connections that score chunks side by side (PostgreSQL only).
HEALTH_SCORE_WORKERS = env_int("HEALTH_SCORE_WORKERS", 2, minimum=1)

# Imports (core.imports): the largest file an admin may upload, and the rows
# read per chunk (each chunk commits the progress the import page shows).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 200 * 1024 * 1024, minimum=1)
IMPORT_CHUNK_ROWS = env_int("IMPORT_CHUNK_ROWS", 10_000, minimum=1)

# Only the local and test settings may create the demo users (password "demo").
DEMO_DATA_ALLOWED = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
