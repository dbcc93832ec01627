"""Aperture settings: everything an operator may change comes from environment variables.

The embedded default (no variables set) runs on SQLite with an in-process channel layer and cache.
Set DATABASE_URL and REDIS_URL for PostgreSQL and Redis. See README.md for every variable.
"""

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from project.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    """An explicit DJANGO_SECRET_KEY wins; otherwise one is generated once and kept beside the code,
    so that a newcomer needs no configuration and several local workers share the same key."""
    configured = env_str("DJANGO_SECRET_KEY")
    if configured:
        return configured
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Unset: absolute links follow the address each request came to (project/site.py).
SITE_URL = env_str("SITE_URL", "").rstrip("/")
SITE_URL_FALLBACK = env_str("SITE_URL_FALLBACK", "").rstrip("/")

# --- HTTPS (production; README "Production"): all off by default so the embedded demo runs on http.
# Behind a proxy that terminates TLS and sends X-Forwarded-Proto (the README's nginx does), set
# DJANGO_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto so Django knows which requests came over https.
_proxy_header = env_str("DJANGO_SECURE_PROXY_SSL_HEADER")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]  # the load balancer's probe may use plain http
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
# Content Security Policy (project.csp): enforced unless DJANGO_CSP_REPORT_ONLY is true.
CSP_REPORT_ONLY = env_bool("DJANGO_CSP_REPORT_ONLY", False)

INSTALLED_APPS = [
    "project.apps.ProjectConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "accounts",
    "events",
    "registrations",
    "streams",
    "calendars",
    "notices",
    "frontend",
]

MIDDLEWARE = [
    # Outermost: pages, JSON and (in development) static files go out compressed when the client
    # accepts it. Safe with CSRF tokens in pages: Django masks them anew on every response.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "project.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "project.site.SiteOriginMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a signed-in person's saved language comes first (project/i18n.py).
    "project.i18n.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "project.i18n.language_context",
                "frontend.context.workspace_links",
            ],
            # Dates, zones and organizer texts in the reader's language: {% load aperture %}.
            "libraries": {"aperture": "project.templatetags"},
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock at BEGIN, so concurrent writers queue on the
    # busy timeout instead of failing with "database is locked" when they upgrade a read lock.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env_int("SQLITE_TIMEOUT", 30),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": env_str("SQLITE_TEST_NAME", "") or None}
# A connection pool per process (PostgreSQL), for the ASGI server: Django runs each HTTP request's
# sync code in a thread of its own there, so persistent connections pile up until PostgreSQL
# refuses clients; with DB_POOL_MAX_SIZE=N requests borrow one of at most N connections instead.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 0)
if DB_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env_float("DB_POOL_TIMEOUT", 30.0),
    }
# Prepared statements for the hot statements that opt in (project.db.prepared_cursor): prepared
# on a connection after 5 executions. Turn off behind a transaction-pooling PgBouncer older than
# 1.21, which cannot carry prepared statements.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite cannot defer unique constraints; PostgreSQL enforces them (see registrations.models).
SILENCED_SYSTEM_CHECKS = ["models.W038"]
AUTH_USER_MODEL = "accounts.User"
# Django's ModelBackend for the password, with the per-request lookup of the user and their
# memberships in one prepared statement (accounts/backends.py). Sessions signed in under another
# backend's name are signed out once.
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]

# --- Redis: channel layer, cache, live presence -------------------------------------------
REDIS_URL = env_str("REDIS_URL")


def _redis_url_for_test_worker(url: str, worker: str) -> str:
    """Under ``pytest -n`` each worker gets its own Redis database (the next ones after the
    configured one), because a test's ``cache.clear()`` flushes a whole database and the workers'
    test databases hand out the same ids. Server processes a test starts inherit the variable."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    index = int(worker.removeprefix("gw") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + 1 + index) % 16}"))


# How long a request waits for Redis (cache, throttles, live figures) before failing open, and how
# long Redis is then left alone (calls fail open at once); see project.redis_guard.
REDIS_TIMEOUT_SECONDS = env_float("REDIS_TIMEOUT_SECONDS", 1.0)
REDIS_RETRY_SECONDS = env_float("REDIS_RETRY_SECONDS", 1.0)
if REDIS_URL and env_str("PYTEST_XDIST_WORKER"):
    REDIS_URL = _redis_url_for_test_worker(REDIS_URL, env_str("PYTEST_XDIST_WORKER"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("REDIS_PREFIX", "aperture")},
        }
    }
    # Fails open (project.redis_guard): without Redis, throttles let requests through and the cache
    # answers "nothing stored", after at most one short timeout per REDIS_RETRY_SECONDS.
    CACHES = {
        "default": {
            "BACKEND": "project.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("REDIS_PREFIX", "aperture"),
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    }
    # Signed-in pages read the session from Redis (the database stays the record, and the fallback).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env_list(
    "DJANGO_PASSWORD_HASHERS",
    ["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
)

# --- Language (issue 11; project/i18n.py has the rule) ----------------------------------------
# Simplified Chinese first, English too. LANGUAGE_CODE is the language of a visitor who has not
# chosen and whose browser asks for neither.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LANGUAGE_CODE = env_str("DJANGO_LANGUAGE_CODE", "zh-hans").strip().lower()
if LANGUAGE_CODE not in {code for code, _name in LANGUAGES}:
    raise ImproperlyConfigured(f"DJANGO_LANGUAGE_CODE must be one of zh-hans, en; got {LANGUAGE_CODE!r}")
LANGUAGE_COOKIE_NAME = "aperture_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
# One catalogue per app (<app>/locale/zh_Hans/LC_MESSAGES/django.po); project/locale holds the
# texts of project/ itself. README "Language" tells how to add strings.
LOCALE_PATHS = [BASE_DIR / "project" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
WHITENOISE_USE_FINDERS = True
# collectstatic (make prod) writes .gz copies beside the files; nginx and WhiteNoise serve them.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = DEBUG

# How long the shared parts of the home and session pages are reused (frontend/page_cache.py): seat
# figures on a freshly loaded page are at most this old; planning changes show at once. 0 turns it off.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 1)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Aperture <noreply@aperture.local>")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)  # seconds; a hung mail server must not hold a job forever

# --- Background jobs (project/jobs.py, notices/) ------------------------------------------------
# django-tasks with its database backend: a job row commits with the change that enqueued it.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A job started longer ago than this and not finished belongs to a worker that died: it is made
# ready again (and a notice left "sending" that long is sent again). Longer than any one job runs.
JOBS_STALE_SECONDS = env_float("JOBS_STALE_SECONDS", 300)
# Failed jobs and failed deliveries are retried after base, 2 x base, 4 x base ... up to max.
JOBS_RETRY_BASE_SECONDS = env_float("JOBS_RETRY_BASE_SECONDS", 30)
JOBS_RETRY_MAX_SECONDS = env_float("JOBS_RETRY_MAX_SECONDS", 3600)
# Finished job results are deleted (project.jobs.prune_finished_jobs, planned by the workers every
# JOBS_PRUNE_EVERY_HOURS; 0: never): succeeded ones after this many days, failed ones (their
# tracebacks) after longer.
JOBS_PRUNE_EVERY_HOURS = env_float("JOBS_PRUNE_EVERY_HOURS", 24)
JOBS_KEEP_SUCCEEDED_DAYS = env_int("JOBS_KEEP_SUCCEEDED_DAYS", 14)
JOBS_KEEP_FAILED_DAYS = env_int("JOBS_KEEP_FAILED_DAYS", 90)
# Notices emailed per delivery job (one SMTP connection each).
NOTICE_BATCH_SIZE = env_int("NOTICE_BATCH_SIZE", 50)
# Reminders to confirmed fans, this many hours before a session starts (comma-separated).
REMINDER_HOURS = [float(hours) for hours in env_list("REMINDER_HOURS", ["24", "2"])]

# --- REST API -----------------------------------------------------------------------------
# Rates of at least THROTTLE_LOCAL_MIN_RATE calls per window: each process allows a client this share
# of it without a round trip to the shared counter (project/throttles.py); 0 counts every call there.
THROTTLE_LOCAL_SHARE = env_float("THROTTLE_LOCAL_SHARE", 0.05)
THROTTLE_LOCAL_MIN_RATE = env_int("THROTTLE_LOCAL_MIN_RATE", 100)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's own, plus: a signed-in person's saved language answers (project/i18n.py).
        "project.i18n.TokenAuthentication",
        "project.i18n.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies only, as the contract says (a plan upload adds CSV and multipart on its own view):
    # a form body's empty strings cannot say null, nor its strings a number, so the schema could not
    # describe what a form would be taken to mean.
    "DEFAULT_PARSER_CLASSES": ["project.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "project.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "project.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "project.schema.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "project.throttles.AnonRateThrottle",
        "project.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON", "600/min") or None,
        "user": env_str("THROTTLE_USER", "1200/min") or None,
        "signup": env_str("THROTTLE_SIGNUP", "30/hour") or None,
        "login": env_str("THROTTLE_LOGIN", "60/min") or None,
        "priority_code": env_str("THROTTLE_PRIORITY_CODE", "10/min") or None,
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # How many reverse proxies stand in front (their X-Forwarded-For entries are trusted for the
    # per-address throttles). 0: the peer address itself, which a client cannot forge.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Aperture API",
    "DESCRIPTION": "Live-stream event and workshop scheduling: planning, registration, calendars, "
    "live audiences. Errors are JSON: {detail, code, fields}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RegistrationStatusEnum": "registrations.models.Registration.Status",
        "SessionStatusEnum": "events.models.Session.Status",
        "MessageStatusEnum": "notices.serializers.MESSAGE_STATUSES",
        "NoticeKindEnum": "notices.models.Notice.Kind",
        "SessionKindEnum": "events.models.Session.Kind",
    },
}

# --- Planning rules (issue: planning) -----------------------------------------------------
VENUE_CHANGEOVER_MINUTES = env_int("VENUE_CHANGEOVER_MINUTES", 30)
HOST_TRAVEL_SPEED_KMH = env_float("HOST_TRAVEL_SPEED_KMH", 500.0)
HOST_TRAVEL_BUFFER_MINUTES = env_int("HOST_TRAVEL_BUFFER_MINUTES", 90)

# --- Live audience --------------------------------------------------------------------------
# How long a websocket ticket (POST /api/ws-ticket/, single use) stays valid.
WS_TICKET_SECONDS = env_int("WS_TICKET_SECONDS", 60)
# Open websockets one client address may hold per worker process (0: no cap); more are closed (4429).
WS_MAX_SOCKETS_PER_ADDRESS = env_int("WS_MAX_SOCKETS_PER_ADDRESS", 20)
# Each process reports its counts (and its liveness) at least this often; a join or leave is reported
# at once (streams.hub), at most once per PRESENCE_MIN_REPORT_SECONDS.
PRESENCE_TICK_SECONDS = env_float("PRESENCE_TICK_SECONDS", 1.0)
# Write each push's frame, encoded once, straight to uvicorn's sockets (streams.frames).
WS_SHARED_FRAMES = env_bool("WS_SHARED_FRAMES", True)
PRESENCE_MIN_REPORT_SECONDS = env_float("PRESENCE_MIN_REPORT_SECONDS", 0.05)
# A socket gets new figures at most once per this many seconds (leading edge: a change after a quiet
# second goes out at once; one within the second goes out when the second is over). Default: the tick.
PRESENCE_PUSH_SECONDS: float | None = (
    env_float("PRESENCE_PUSH_SECONDS", 1.0) if env_str("PRESENCE_PUSH_SECONDS") else None
)
PRESENCE_LIVENESS_SECONDS = env_float("PRESENCE_LIVENESS_SECONDS", 15.0)
# How often one process saves peak/totals and a timeline point (streams.presence).
PRESENCE_SAMPLE_SECONDS = env_float("PRESENCE_SAMPLE_SECONDS", 5.0)
# A viewer who comes back within this many seconds of leaving is not a new view.
PRESENCE_VIEW_GRACE_SECONDS = env_float("PRESENCE_VIEW_GRACE_SECONDS", 30.0)
# An external platform that has not reported for this long drops out of the totals.
PRESENCE_EXTERNAL_TIMEOUT_SECONDS = env_float("PRESENCE_EXTERNAL_TIMEOUT_SECONDS", 60.0)
# Signed external counts whose "at" is older than this (or this far in the future) are refused.
EXTERNAL_COUNT_MAX_AGE_SECONDS = env_int("EXTERNAL_COUNT_MAX_AGE_SECONDS", 300)
PRESENCE_REDIS_PREFIX = env_str("PRESENCE_REDIS_PREFIX", env_str("REDIS_PREFIX", "aperture") + ":presence")

# --- Health (project.health) ----------------------------------------------------------------
# /api/health/ answers 503 when the oldest due background job has waited longer than this.
HEALTH_QUEUE_MAX_AGE_SECONDS = env_int("HEALTH_QUEUE_MAX_AGE_SECONDS", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No URL's query string is ever logged: websockets may carry a token or a ticket in it.
    "filters": {"no_query_strings": {"()": "project.log_filters.RedactQueryStrings"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_query_strings"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
